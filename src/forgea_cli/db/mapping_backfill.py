"""SQL of the repo-mapping backfill: stream unmapped sessions out, stage them, decide, insert in batches.

The rows cross the wire with COPY in PostgreSQL's text format, and this module is their codec: each
session line becomes a stage line (canonical URL or rejection reason, decided by the caller's
function) without building Python objects per column. The stage, the lab templates and the plan
are temporary tables of the writer connection: a killed run leaves nothing behind but the batches
it committed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from forgea_cli.db.statuses import ACTIVE_SQL

# Session settings of the backfill's own connections: sorts and hashes of a million rows in memory.
SESSION_SETTINGS = {"work_mem": "64MB"}
RUN_LOCK_KEY = 0x666F726765610006  # 'forgea' + issue 6: one repo-mapping backfill per database
LINES_PER_WRITE = 2000  # stage lines sent to the writer's COPY at once

# One line per session without a mapping: id, active (t/f), lastActivityAt, userForkUrl.
UNMAPPED_SESSIONS_COPY = f"""
COPY (SELECT s."id", s."status" IN {ACTIVE_SQL}, s."lastActivityAt", s."userForkUrl"
      FROM "LabSession" s
      WHERE NOT EXISTS (SELECT 1 FROM "GitHubRepoMapping" m WHERE m."labSessionId" = s."id"))
TO STDOUT
"""

STAGE_COLUMNS = "session_id, active, last_activity, canonical, owner, name, reason"
CREATE_STAGE = """
CREATE TEMP TABLE repo_mapping_stage (
    session_id uuid NOT NULL,
    active boolean NOT NULL,
    last_activity timestamp(3) NOT NULL,
    canonical text,
    owner text,
    name text,
    reason text
)
"""

# The canonical URLs of every lab template (services/mapping/templates.py decides them once per run),
# each with the sentence that names its labs and versions.
CREATE_TEMPLATES = """
CREATE TEMP TABLE repo_mapping_templates (
    canonical text PRIMARY KEY,
    detail text NOT NULL
)
"""
INSERT_TEMPLATE = "INSERT INTO repo_mapping_templates (canonical, detail) VALUES (:canonical, :detail)"

# Every staged session gets a decision. A lab's template is never a student's repository: every
# session naming one is TEMPLATE_URL (none of them wins). Winner of any other canonical URL: active
# first, then the most recent lastActivityAt, then the smallest id; a URL already held by a mapping
# has no winner here.
CREATE_PLAN = """
CREATE TEMP TABLE repo_mapping_plan AS
SELECT row_number() OVER (ORDER BY d.canonical, d.active DESC, d.last_activity DESC, d.session_id) AS seq, d.*
FROM (
    SELECT s.*,
           row_number() OVER w AS rank,
           first_value(s.session_id) OVER w AS group_winner,
           m."labSessionId" AS mapped_session,
           t.canonical IS NOT NULL AS is_template
    FROM repo_mapping_stage s
    LEFT JOIN "GitHubRepoMapping" m ON m."canonicalUrl" = s.canonical
    LEFT JOIN repo_mapping_templates t ON t.canonical = s.canonical
    WINDOW w AS (PARTITION BY s.canonical ORDER BY s.active DESC, s.last_activity DESC, s.session_id)
) d
"""
PLAN_INDEX = "CREATE INDEX ON repo_mapping_plan (seq)"
TO_MAP = "canonical IS NOT NULL AND NOT is_template AND mapped_session IS NULL AND rank = 1"
PROBLEM = f"NOT ({TO_MAP})"

PLAN_COUNTS = f"""
SELECT count(*) AS staged,
       count(*) FILTER (WHERE {TO_MAP}) AS to_map,
       count(*) FILTER (WHERE canonical IS NOT NULL AND NOT is_template AND NOT ({TO_MAP})) AS duplicate_url,
       count(*) FILTER (WHERE canonical IS NULL) AS invalid_url,
       count(*) FILTER (WHERE is_template) AS template_url,
       coalesce(max(seq), 0) AS last_seq
FROM repo_mapping_plan
"""
INVALID_BY_REASON = """
SELECT reason, count(*) FROM repo_mapping_plan WHERE canonical IS NULL GROUP BY reason ORDER BY reason
"""

INSERT_BATCH = f"""
INSERT INTO "GitHubRepoMapping" ("labSessionId", "owner", "name", "canonicalUrl", "resolution", "source")
SELECT session_id, owner, name, canonical, 'PENDING', 'BACKFILL'
FROM repo_mapping_plan
WHERE seq > :low AND seq <= :high AND {TO_MAP}
ORDER BY seq
ON CONFLICT DO NOTHING
"""
BATCH_TO_MAP = f"SELECT count(*) FROM repo_mapping_plan WHERE seq > :low AND seq <= :high AND {TO_MAP}"

# Duplicates name the session that holds (or will hold) the URL; templates name their labs.
PROBLEM_ROWS = f"""
SELECT p.session_id, p.canonical, p.reason, coalesce(p.mapped_session, p.group_winner) AS winner,
       p.mapped_session IS NOT NULL AS held_by_existing_mapping, s."userForkUrl",
       (SELECT t.detail FROM repo_mapping_templates t WHERE t.canonical = p.canonical) AS template
FROM repo_mapping_plan p JOIN "LabSession" s ON s."id" = p.session_id
WHERE {PROBLEM}
ORDER BY p.seq
"""


@dataclass(frozen=True)
class PlanCounts:
    staged: int
    to_map: int
    duplicate_url: int
    invalid_url: int
    template_url: int
    last_seq: int


@dataclass(frozen=True)
class ProblemRow:
    session_id: Any
    canonical: str | None
    reason: str | None
    winner: Any
    held_by_existing_mapping: bool
    user_fork_url: str
    template: str | None = None  # the lab template(s) the URL is, in one sentence


def apply_session_settings(connection: Connection) -> None:
    for name, value in SESSION_SETTINGS.items():
        connection.execute(text("SELECT set_config(:name, :value, false)"), {"name": name, "value": value})


def reset_session_settings(connection: Connection) -> None:
    """Pooled connections go back as they came."""
    for name in SESSION_SETTINGS:
        connection.execute(text(f"RESET {name}"))


def drop_temp_tables(connection: Connection) -> None:
    connection.execute(
        text(
            "DROP TABLE IF EXISTS pg_temp.repo_mapping_plan, pg_temp.repo_mapping_stage, "
            "pg_temp.repo_mapping_templates"
        )
    )


def create_stage(connection: Connection) -> None:
    drop_temp_tables(connection)
    connection.execute(text(CREATE_STAGE))


def create_templates(connection: Connection, templates: Iterable[tuple[str, str]]) -> None:
    """The run's lab templates: (canonical URL, sentence naming its labs and versions)."""
    connection.execute(text(CREATE_TEMPLATES))
    rows = [{"canonical": canonical, "detail": detail} for canonical, detail in templates]
    if rows:
        connection.execute(text(INSERT_TEMPLATE), rows)
    connection.execute(text("ANALYZE repo_mapping_templates"))


def _driver(connection: Connection) -> Any:
    """The psycopg connection under SQLAlchemy's (COPY is not part of the DBAPI)."""
    return connection.connection.driver_connection


# What the caller's function says about one userForkUrl: (canonical URL, owner, name) when it names a
# repository, else the rejection reason.
UrlVerdict = tuple[str, str, str] | str


def stage_unmapped_sessions(
    writer: Connection,
    reader: Connection,
    decide: Callable[[str], UrlVerdict],
    staged: Callable[[int], None] = lambda count: None,
) -> None:
    """Every session without a mapping, COPYed out of ``reader`` (one snapshot, nothing written),
    its URL judged by ``decide``, COPYed into the stage of ``writer`` while PostgreSQL is still
    producing the next rows; ``staged(n)`` after each write. The reader's session settings are set
    inside its transaction, so they vanish with its rollback."""
    apply_session_settings(reader)
    with _unmapped_session_lines(reader) as lines, _stage_writer(writer) as stage:
        for chunk in _chunks((stage_line(line, decide) for line in lines), LINES_PER_WRITE):
            stage.write(b"".join(chunk))
            staged(len(chunk))


@contextmanager
def _unmapped_session_lines(reader: Connection) -> Iterator[Iterator[bytes]]:
    """COPY text lines (with their newline) of every session without a mapping."""
    cursor = _driver(reader).cursor()
    try:
        with cursor.copy(UNMAPPED_SESSIONS_COPY) as copy:
            yield (bytes(row) for row in copy)
    finally:
        cursor.close()


def stage_line(line: bytes, decide: Callable[[str], UrlVerdict]) -> bytes:
    """``id\\tactive\\tlastActivityAt\\turl\\n`` (COPY text) → the stage row for that session.

    The first three fields pass through untouched; the URL is the last field (fields never hold a
    raw tab: COPY escapes it).
    """
    head, _, raw_url = line.rpartition(b"\t")
    verdict = decide(decode_copy_field(raw_url.rstrip(b"\n")))
    if isinstance(verdict, str):
        return head + b"\t\\N\t\\N\t\\N\t" + verdict.encode() + b"\n"
    canonical, owner, name = verdict
    # Owner, name and host are ASCII without tabs or backslashes (urls.py checks them).
    return head + f"\t{canonical}\t{owner}\t{name}\t\\N\n".encode()


_COPY_ESCAPE = re.compile(rb"\\(.)", re.DOTALL)
_COPY_ESCAPES = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}


def decode_copy_field(raw: bytes) -> str:
    """A text-format COPY TO field as text (COPY TO only emits these single-character escapes)."""
    if b"\\" in raw:
        raw = _COPY_ESCAPE.sub(lambda m: _COPY_ESCAPES.get(m.group(1), m.group(1)), raw)
    return raw.decode("utf-8", errors="replace")


def _chunks(lines: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextmanager
def _stage_writer(connection: Connection) -> Iterator[Any]:
    """A psycopg Copy accepting stage lines (``write(bytes)``) into the temporary stage."""
    cursor = _driver(connection).cursor()
    try:
        with cursor.copy(f"COPY repo_mapping_stage ({STAGE_COLUMNS}) FROM STDIN") as copy:
            yield copy
    finally:
        cursor.close()


def create_plan(connection: Connection) -> PlanCounts:
    connection.execute(text(CREATE_PLAN))
    connection.execute(text(PLAN_INDEX))
    connection.execute(text("ANALYZE repo_mapping_plan"))
    row = connection.execute(text(PLAN_COUNTS)).one()
    return PlanCounts(*(int(value) for value in row))


def invalid_by_reason(connection: Connection) -> dict[str, int]:
    return {reason: int(count) for reason, count in connection.execute(text(INVALID_BY_REASON))}


def insert_batch(connection: Connection, low: int, high: int) -> tuple[int, int]:
    """(rows the plan maps in (low, high], rows actually inserted); the caller commits."""
    bounds = {"low": low, "high": high}
    planned = int(connection.execute(text(BATCH_TO_MAP), bounds).scalar() or 0)
    inserted = connection.execute(text(INSERT_BATCH), bounds).rowcount
    return planned, inserted


def vacuum_analyze_mappings(connection: Connection) -> None:
    """Statistics for the planner and a visibility map for index-only scans, right after a bulk
    insert instead of whenever autovacuum gets there. Blocks no reader or writer. VACUUM runs
    outside any transaction: ``connection`` is an autocommit one."""
    connection.execute(text('VACUUM (ANALYZE) "GitHubRepoMapping"'))


def problem_rows(connection: Connection, limit: int | None = None) -> Iterator[ProblemRow]:
    """Duplicate, invalid and template sessions in plan order, streamed (a CSV of any length stays small)."""
    query = PROBLEM_ROWS + (" LIMIT :limit" if limit is not None else "")
    result = connection.execute(
        text(query),
        {"limit": limit} if limit is not None else {},
        execution_options={"stream_results": True, "max_row_buffer": 1000},
    )
    for row in result:
        yield ProblemRow(*row)


def planned_rows(connection: Connection, limit: int) -> list[tuple[Any, str]]:
    """The first ``limit`` sessions the plan maps, in the order it would insert them: (session id,
    canonical URL). For a dry run's `--show N`; the plan is the writer connection's temporary table."""
    query = text(f"SELECT session_id, canonical FROM repo_mapping_plan WHERE {TO_MAP} ORDER BY seq LIMIT :n")
    return [(row[0], row[1]) for row in connection.execute(query, {"n": limit})]
