"""Session-level advisory locks: one run of a kind per database, across its many transactions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text

from forgea_cli.errors import InProgress


@contextmanager
def held(connection: Connection, key: int, *, wait_seconds: float, busy: str, hint: str) -> Iterator[None]:
    """Hold lock `key` for the block; wait up to `wait_seconds`, then raise InProgress(busy)."""
    deadline = time.monotonic() + wait_seconds
    while not connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
        connection.commit()
        if time.monotonic() >= deadline:
            raise InProgress(busy, hint=hint)
        time.sleep(0.25)
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()
        connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        connection.commit()
