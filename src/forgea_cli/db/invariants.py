"""The data invariants' queries (verify-constraints): set-based, read-only, fast at a million sessions.

Each function returns figures (counts and a few example ids); judging them is the verify service's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, text

from forgea_cli.db.duplicate_queries import ACTIVE_DUPLICATE_GROUPS
from forgea_cli.db.idempotency_keys import STUCK_SQL
from forgea_cli.urls import RESERVED_FIRST_SEGMENTS, canonical_repo_url

EXAMPLES = 5


@dataclass(frozen=True)
class Figure:
    count: int
    examples: list[str] = field(default_factory=list)


def read_only_snapshot(connection: Connection) -> None:
    """One consistent, read-only view for every query; enough memory for hash joins at 1M rows.

    The first statement of a fresh unit of work (SET TRANSACTION must precede any query)."""
    connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
    connection.execute(text("SET LOCAL work_mem = '64MB'"))
    connection.execute(text("SET LOCAL statement_timeout = '5min'"))


def _examples(connection: Connection, sql: str, params: dict[str, Any] | None = None) -> list[str]:
    return [str(v) for v in connection.execute(text(f"{sql} LIMIT {EXAMPLES}"), params or {}).scalars()]


def _figure(connection: Connection, rows_sql: str, params: dict[str, Any] | None = None) -> Figure:
    """How many rows ``rows_sql`` selects, with examples when there are any."""
    count = connection.execute(text(f"SELECT count(*) FROM ({rows_sql}) r"), params or {}).scalar_one()
    return Figure(count, _examples(connection, rows_sql, params) if count else [])


def active_duplicates(connection: Connection) -> Figure:
    return _figure(connection, f"""SELECT "userId" || '/' || "labId" FROM ({ACTIVE_DUPLICATE_GROUPS}) d""")


@dataclass(frozen=True)
class SessionColumns:
    unstamped: int  # VERIFIED_PASS without completedAt
    stray: int  # completedAt on a session that is not VERIFIED_PASS
    unversioned: int  # no labVersionId


def session_columns(connection: Connection) -> SessionColumns:
    row = connection.execute(
        text(
            """SELECT count(*) FILTER (WHERE status = 'VERIFIED_PASS' AND "completedAt" IS NULL) unstamped,
                      count(*) FILTER (WHERE status <> 'VERIFIED_PASS' AND "completedAt" IS NOT NULL) stray,
                      count(*) FILTER (WHERE "labVersionId" IS NULL) AS unversioned
               FROM "LabSession" """
        )
    ).one()
    return SessionColumns(row.unstamped, row.stray, row.unversioned)


def stray_completed_examples(connection: Connection) -> list[str]:
    return _examples(
        connection,
        """SELECT id FROM "LabSession" WHERE status <> 'VERIFIED_PASS' AND "completedAt" IS NOT NULL""",
    )


def unstamped_examples(connection: Connection) -> list[str]:
    return _examples(
        connection, """SELECT id FROM "LabSession" WHERE status = 'VERIFIED_PASS' AND "completedAt" IS NULL"""
    )


# --- GitHubRepoMapping ----------------------------------------------------------------------------

# True only for canonical URLs (a test holds it to `canonical_repo_url`): shape by one anchored
# regex, the rare rules by LIKE and split_part, which cost far less per row than a regex with
# counted repetitions. What it rejects, Python confirms.
_U = '"canonicalUrl"'
_SURELY_CANONICAL = f"""(
    left({_U}, :n) = :prefix
    AND substr({_U}, :n + 1) ~ '^[a-z0-9-]+/[a-z0-9._-]+$'
    AND {_U} NOT LIKE :prefix_dash AND strpos({_U}, '-/') = 0
    AND (strpos({_U}, '--') = 0 OR strpos(split_part({_U}, '/', 4), '--') = 0)
    AND (octet_length({_U}) <= :n + 41
         OR (length(split_part({_U}, '/', 4)) <= 39 AND length(split_part({_U}, '/', 5)) <= 100))
    AND split_part({_U}, '/', 4) <> ALL(:reserved)
    AND {_U} NOT LIKE '%.git' AND {_U} NOT LIKE '%/.' AND {_U} NOT LIKE '%/..'
)"""


@dataclass(frozen=True)
class MappingFigures:
    unmapped: int  # sessions without a mapping
    orphans: int  # mappings whose session is gone
    doubled: int  # sessions with more than one mapping
    resolved: int
    pending: int
    not_found: int
    suspicious: int  # canonicalUrl values the SQL filter cannot vouch for


def mapping_figures(connection: Connection, web_url: str) -> MappingFigures:
    # One hash full join answers both directions: mappings without a session, sessions without one.
    links = connection.execute(
        text("""SELECT count(*) FILTER (WHERE m."labSessionId" IS NULL) AS unmapped,
                       count(*) FILTER (WHERE s.id IS NULL) AS orphans
                FROM "LabSession" s FULL JOIN "GitHubRepoMapping" m ON m."labSessionId" = s.id""")
    ).one()
    doubled = connection.execute(
        text("""SELECT count(*) FROM (SELECT 1 FROM "GitHubRepoMapping" GROUP BY "labSessionId"
                                      HAVING count(*) > 1) d""")
    ).scalar_one()
    stats = connection.execute(
        text(f"""SELECT count(*) FILTER (WHERE resolution = 'RESOLVED') AS resolved,
                        count(*) FILTER (WHERE resolution = 'PENDING') AS pending,
                        count(*) FILTER (WHERE resolution = 'NOT_FOUND') AS not_found,
                        count(*) FILTER (WHERE NOT {_SURELY_CANONICAL}) AS suspicious
                 FROM "GitHubRepoMapping" """),
        canonical_params(web_url),
    ).one()
    return MappingFigures(
        links.unmapped,
        links.orphans,
        doubled,
        stats.resolved,
        stats.pending,
        stats.not_found,
        stats.suspicious,
    )


def maybe_not_canonical(connection: Connection, web_url: str) -> Iterator[str]:
    """Stored canonicalUrl values the SQL filter cannot vouch for, streamed."""
    query = text(f'SELECT "canonicalUrl" FROM "GitHubRepoMapping" WHERE NOT {_SURELY_CANONICAL}')
    params = canonical_params(web_url)
    yield from connection.execute(query, params, execution_options={"yield_per": 5000}).scalars()


def canonical_params(web_url: str) -> dict[str, Any]:
    prefix = canonical_prefix(web_url)
    like_prefix = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return {
        "n": len(prefix),
        "prefix": prefix,
        "prefix_dash": f"{like_prefix}-%",
        "reserved": sorted(RESERVED_FIRST_SEGMENTS),
    }


def canonical_prefix(web_url: str) -> str:
    """``https://<host>/`` as canonical URLs on the configured web host start."""
    spec = web_url if "://" in web_url else f"https://{web_url}"
    parts = urlsplit(spec)
    sample = canonical_repo_url(f"https://{parts.netloc}/o/r", web_url)
    return sample.removesuffix("o/r")


# --- idempotency keys and verification logs -------------------------------------------------------


def stuck_keys(connection: Connection, lease_seconds: float) -> Figure:
    stuck = f'SELECT id FROM "IdempotencyKey" WHERE {STUCK_SQL}'  # what `keys list --stuck` shows
    return _figure(connection, stuck, {"lease": lease_seconds})


def replay_lag_seconds(connection: Connection) -> float | None:
    """On a standby, seconds since the last replayed transaction committed (0 when it has replayed all
    it received); None when the connection is not to a standby."""
    row = connection.execute(
        text(
            """SELECT pg_is_in_recovery() AS standby,
                      CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                           ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END AS lag"""
        )
    ).one()
    return float(row.lag or 0.0) if row.standby else None


def logs_without_attempt(connection: Connection) -> Figure:
    missing = """SELECT l.id FROM "VerificationLog" l WHERE NOT EXISTS
                 (SELECT 1 FROM "VerificationAttempt" a WHERE a."legacyVerificationLogId" = l.id)"""
    return _figure(connection, missing)
