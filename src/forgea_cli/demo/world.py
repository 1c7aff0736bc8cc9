"""Building (or reusing) the demo database and the optional local fake GitHub."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from forgea_cli.db import demo_data
from forgea_cli.db.embedded import create_database
from forgea_cli.db.engine import libpq_dsn, with_database
from forgea_cli.db.fixtures import load_legacy_database
from forgea_cli.db.fixtures.legacy_data import LegacySize
from forgea_cli.db.uow import UnitOfWorkFactory
from forgea_cli.demo.plan import DemoWorld

DEMO_DATABASE = "forgea_demo"
# Enough for every URL spelling, invalid URLs, duplicates and all statuses.
DEMO_SIZE = LegacySize(sessions=450, users=150, labs=4)


def prepare(embedded_url: str, *, reset: bool) -> tuple[str, bool]:
    """The demo database's URL, and True when it was built now (`reset` drops an earlier one)."""
    url = with_database(embedded_url, DEMO_DATABASE)
    if not create_database(libpq_dsn(embedded_url), DEMO_DATABASE, replace=reset):
        return url, False
    load_legacy_database(url, DEMO_SIZE)
    return url, True


def describe(uow_factory: UnitOfWorkFactory, fork_url: str | None, *, fresh: bool) -> DemoWorld:
    with uow_factory(read_only=True) as uow:
        email, lab_id = demo_data.student_and_lab_without_active_session(uow.connection)
        messy = demo_data.messy_url(uow.connection)
        active = demo_data.only_active_session(uow.connection)
    return DemoWorld(email, lab_id, messy, active, fork_url, fresh)


@contextmanager
def local_fake_github(repo: str) -> Iterator[str | None]:
    """The package's fake GitHub on 127.0.0.1, in its own process (None if it did not start)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "forgea_cli.testing.github_server", "--port", "0", "--repo", repo],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        yield line.rsplit(" ", 1)[-1].strip() if "listening on" in line else None
    finally:
        process.terminate()
        process.wait(timeout=10)
