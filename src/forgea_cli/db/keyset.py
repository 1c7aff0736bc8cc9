"""Keyset batches over a table's primary key: the SQL side of the backfills.

A job names the rows that still need work (`pending`); each batch is the next `batch_size` of them
in key order, changed by `apply` for the range (low, high].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class KeysetJob:
    """`table` and `key` are quoted identifiers; `pending` a SQL condition on that table."""

    name: str
    table: str
    pending: str
    # (connection, low exclusive, high inclusive) -> rows changed
    apply: Callable[[Connection, Any, Any], int]
    key: str = '"id"'


def count_pending(connection: Connection, job: KeysetJob) -> int:
    return int(
        connection.execute(text(f"SELECT count(*) FROM {job.table} WHERE {job.pending}")).scalar() or 0
    )


def next_high(connection: Connection, job: KeysetJob, low: Any, batch_size: int) -> Any:
    after = f"{job.key} > :low AND " if low is not None else ""
    query = text(
        f"SELECT k FROM (SELECT {job.key} AS k FROM {job.table} "
        f"WHERE {after}({job.pending}) ORDER BY {job.key} LIMIT :n) batch ORDER BY k DESC LIMIT 1"
    )
    return connection.execute(query, {"low": low, "n": batch_size}).scalar()


def key_range(column: str, low: Any) -> str:
    """The SQL condition for one batch: (low, high] on `column`."""
    return f"{column} > :low AND {column} <= :high" if low is not None else f"{column} <= :high"


def sample_pending(connection: Connection, job: KeysetJob, detail: str, limit: int) -> list[tuple[Any, str]]:
    """The first ``limit`` rows a run would change, in the order it would change them: (key, the
    SQL expression ``detail`` over the row). Reads only; for dry runs (`--show N`)."""
    query = text(
        f"SELECT {job.key}, {detail} FROM {job.table} WHERE {job.pending} ORDER BY {job.key} LIMIT :n"
    )
    return [(row[0], str(row[1])) for row in connection.execute(query, {"n": limit})]
