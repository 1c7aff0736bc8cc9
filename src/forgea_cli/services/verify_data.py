"""Data invariants: set-based, read-only queries over the whole tables, fast at a million sessions.

A gap that a backfill closes is a warning while the contract revision that relies on it is not
applied yet (the rollout is under way), and a failure afterwards. Mapping coverage stays a figure
(a warning): resolving repository ids depends on GitHub and may lag.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, text

from forgea_cli.errors import InvalidInput
from forgea_cli.services.idempotency import LEASE_SECONDS
from forgea_cli.services.verify_results import CheckResult, CheckStatus, judged, passed, warned
from forgea_cli.services.verify_revisions import ACTIVE_INDEX, CONTRACT, EXPAND, AppliedRevisions
from forgea_cli.urls import RESERVED_FIRST_SEGMENTS, canonical_repo_url

EXAMPLES = 5
ACTIVE = "('IN_PROGRESS', 'STUCK')"


def check_data(connection: Connection, revisions: AppliedRevisions, web_url: str) -> list[CheckResult]:
    """Run inside one read-only snapshot (see `read_only_snapshot`)."""
    results = [_active_duplicates(connection, revisions)]
    if not revisions.has(EXPAND):
        return results + [
            revisions.skip(EXPAND, check_id, obj)
            for check_id, obj in (
                ("data.completed_at", "LabSession.completedAt"),
                ("data.mapping.session_exists", "GitHubRepoMapping"),
                ("data.mapping.one_per_session", "GitHubRepoMapping"),
                ("data.mapping.canonical_url", "GitHubRepoMapping.canonicalUrl"),
                ("data.coverage.sessions_without_mapping", "GitHubRepoMapping"),
                ("data.coverage.unresolved_mappings", "GitHubRepoMapping.resolution"),
                ("data.coverage.lab_version", "LabSession.labVersionId"),
                ("data.idempotency.stuck_keys", "IdempotencyKey"),
                ("data.verification_log.attempt", "VerificationAttempt"),
            )
        ]
    results += _session_columns(connection, revisions)
    results += _mappings(connection, web_url)
    results.append(_stuck_keys(connection))
    results.append(_logs_without_attempt(connection, revisions))
    return results


def read_only_snapshot(connection: Connection) -> None:
    """One consistent, read-only view for every query; enough memory for hash joins at 1M rows."""
    if connection.in_transaction():
        connection.rollback()
    connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
    connection.execute(text("SET LOCAL work_mem = '64MB'"))
    connection.execute(text("SET LOCAL statement_timeout = '5min'"))


def _backfill_gap(revisions: AppliedRevisions) -> CheckStatus:
    return CheckStatus.FAIL if revisions.has(CONTRACT) else CheckStatus.WARN


def _examples(connection: Connection, sql: str, params: dict[str, Any] | None = None) -> list[str]:
    return [str(v) for v in connection.execute(text(f"{sql} LIMIT {EXAMPLES}"), params or {}).scalars()]


def _figure(count: int, examples: list[str] | None = None) -> dict[str, Any]:
    return {"count": count, "examples": examples} if examples else {"count": count}


# --- LabSession ------------------------------------------------------------------------------------


def _active_duplicates(connection: Connection, revisions: AppliedRevisions) -> CheckResult:
    groups = f"""SELECT "userId", "labId", count(*) AS n FROM "LabSession" WHERE status IN {ACTIVE}
                 GROUP BY "userId", "labId" HAVING count(*) > 1"""
    count = connection.execute(text(f"SELECT count(*) FROM ({groups}) d")).scalar_one()
    examples = (
        _examples(connection, f'SELECT "userId" || \'/\' || "labId" FROM ({groups}) d') if count else []
    )
    return judged(
        count == 0,
        "data.active_sessions.unique",
        "LabSession",
        "no student has two active sessions for one lab"
        if count == 0
        else f"{count} students have more than one active (IN_PROGRESS or STUCK) session for a lab",
        expected=_figure(0),
        found=_figure(count, examples),
        hint="`forgea backfill resolve-duplicates` defers all but the most recently active one",
        otherwise=CheckStatus.FAIL if revisions.has(ACTIVE_INDEX) else CheckStatus.WARN,
    )


def _session_columns(connection: Connection, revisions: AppliedRevisions) -> list[CheckResult]:
    row = connection.execute(
        text(
            """SELECT count(*) FILTER (WHERE status = 'VERIFIED_PASS' AND "completedAt" IS NULL) unstamped,
                      count(*) FILTER (WHERE status <> 'VERIFIED_PASS' AND "completedAt" IS NOT NULL) stray,
                      count(*) FILTER (WHERE "labVersionId" IS NULL) AS unversioned
               FROM "LabSession" """
        )
    ).one()
    return [
        _completed_at(connection, revisions, row.unstamped, row.stray),
        _lab_version(revisions, row.unversioned),
    ]


def _completed_at(
    connection: Connection, revisions: AppliedRevisions, unstamped: int, stray: int
) -> CheckResult:
    check_id, obj = "data.completed_at", "LabSession.completedAt"
    if stray:
        examples = _examples(
            connection,
            """SELECT id FROM "LabSession" WHERE status <> 'VERIFIED_PASS' AND "completedAt" IS NOT NULL""",
        )
        return judged(
            False,
            check_id,
            obj,
            f"{stray} sessions that are not VERIFIED_PASS have completedAt set",
            expected=_figure(0),
            found=_figure(stray, examples),
            hint="completedAt is set only by the lifecycle trigger on entering VERIFIED_PASS; "
            "find the writer that sets it",
        )
    if unstamped:
        examples = _examples(
            connection,
            """SELECT id FROM "LabSession" WHERE status = 'VERIFIED_PASS' AND "completedAt" IS NULL""",
        )
        return judged(
            False,
            check_id,
            obj,
            f"{unstamped} VERIFIED_PASS sessions have no completedAt",
            expected=_figure(0),
            found=_figure(unstamped, examples),
            hint="`forgea backfill completed-at`",
            otherwise=_backfill_gap(revisions),
        )
    return passed(
        check_id,
        obj,
        "completedAt is set exactly on VERIFIED_PASS sessions",
        expected=_figure(0),
        found=_figure(0),
    )


def _lab_version(revisions: AppliedRevisions, unversioned: int) -> CheckResult:
    return judged(
        unversioned == 0,
        "data.coverage.lab_version",
        "LabSession.labVersionId",
        "every session has a lab version"
        if not unversioned
        else f"{unversioned} sessions have no labVersionId",
        expected=_figure(0),
        found=_figure(unversioned),
        hint="`forgea backfill lab-versions`",
        otherwise=_backfill_gap(revisions),
    )


# --- GitHubRepoMapping and coverage ---------------------------------------------------------------

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


def _mappings(connection: Connection, web_url: str) -> list[CheckResult]:
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
    return [
        judged(
            links.orphans == 0,
            "data.mapping.session_exists",
            "GitHubRepoMapping",
            "every mapping's session exists"
            if not links.orphans
            else f"{links.orphans} mappings name a session that does not exist",
            expected=_figure(0),
            found=_figure(links.orphans),
            hint="GitHubRepoMapping_labSessionId_fkey was bypassed (session_replication_role = replica?)",
        ),
        judged(
            doubled == 0,
            "data.mapping.one_per_session",
            "GitHubRepoMapping",
            "no session has two mappings"
            if not doubled
            else f"{doubled} sessions have more than one mapping",
            expected=_figure(0),
            found=_figure(doubled),
            hint="GitHubRepoMapping_labSessionId_key is missing or was bypassed",
        ),
        _canonical_urls(connection, web_url) if stats.suspicious else _all_canonical(),
        _figure_result(
            "data.coverage.sessions_without_mapping",
            "GitHubRepoMapping",
            links.unmapped,
            "every session has a repository mapping",
            f"{links.unmapped} sessions have no repository mapping",
            "`forgea backfill repo-mappings` (invalid, duplicate and lab-template URLs stay unmapped "
            "and are listed there)",
        ),
        _figure_result(
            "data.coverage.unresolved_mappings",
            "GitHubRepoMapping.resolution",
            stats.pending + stats.not_found,
            "every mapping has its GitHub repository id",
            f"{stats.pending} mappings PENDING, {stats.not_found} NOT_FOUND",
            "`forgea mapping resolve-ids` fills PENDING ones; NOT_FOUND repositories are gone "
            "(see `forgea repo reconcile`)",
            found={"RESOLVED": stats.resolved, "PENDING": stats.pending, "NOT_FOUND": stats.not_found},
        ),
    ]


def _all_canonical() -> CheckResult:
    return passed(
        "data.mapping.canonical_url",
        "GitHubRepoMapping.canonicalUrl",
        "every canonicalUrl is canonical",
        expected=_figure(0),
        found=_figure(0),
    )


def _canonical_urls(connection: Connection, web_url: str) -> CheckResult:
    """SQL keeps only values that might not be canonical; `canonical_repo_url` has the last word."""
    wrong = []
    for value in maybe_not_canonical(connection, web_url):
        try:
            canonical = canonical_repo_url(value, web_url)
        except InvalidInput:
            canonical = None
        if canonical != value:
            wrong.append(value)
    if not wrong:
        return _all_canonical()
    return judged(
        False,
        "data.mapping.canonical_url",
        "GitHubRepoMapping.canonicalUrl",
        f"{len(wrong)} mappings have a canonicalUrl that is not canonical",
        expected=_figure(0),
        found=_figure(len(wrong), wrong[:EXAMPLES]),
        hint="rewrite them with the canonical form (`forgea mapping canonicalize URL`)",
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


def _figure_result(
    check_id: str, obj: str, count: int, ok: str, gap: str, hint: str, found: dict[str, Any] | None = None
) -> CheckResult:
    if count == 0:
        return passed(check_id, obj, ok, expected=_figure(0), found=found or _figure(0))
    return warned(check_id, obj, gap, expected=_figure(0), found=found or _figure(count), hint=hint)


# --- idempotency keys and verification logs -------------------------------------------------------


def _stuck_keys(connection: Connection) -> CheckResult:
    stuck = """SELECT id FROM "IdempotencyKey"
               WHERE "recoveryPoint" IN ('STARTED', 'REPO_CREATED')
                 AND coalesce("lockedAt", "lastRunAt") < LOCALTIMESTAMP - make_interval(secs => :lease)"""
    params = {"lease": LEASE_SECONDS}
    count = connection.execute(text(f"SELECT count(*) FROM ({stuck}) k"), params).scalar_one()
    examples = _examples(connection, stuck, params) if count else []
    return judged(
        count == 0,
        "data.idempotency.stuck_keys",
        "IdempotencyKey",
        "no session creation is stuck before FINISHED"
        if not count
        else f"{count} idempotency keys are stuck before FINISHED "
        f"for longer than the {LEASE_SECONDS:.0f} s lease",
        expected=_figure(0),
        found=_figure(count, examples),
        hint="`forgea keys list`, then `forgea keys resume KEY` or `forgea keys abandon KEY`",
    )


def _logs_without_attempt(connection: Connection, revisions: AppliedRevisions) -> CheckResult:
    missing = """SELECT l.id FROM "VerificationLog" l WHERE NOT EXISTS
                 (SELECT 1 FROM "VerificationAttempt" a WHERE a."legacyVerificationLogId" = l.id)"""
    count = connection.execute(text(f"SELECT count(*) FROM ({missing}) m")).scalar_one()
    examples = _examples(connection, missing) if count else []
    return judged(
        count == 0,
        "data.verification_log.attempt",
        "VerificationAttempt",
        "every VerificationLog row has its attempt"
        if not count
        else f"{count} VerificationLog rows have no VerificationAttempt",
        expected=_figure(0),
        found=_figure(count, examples),
        hint="`forgea backfill verification-attempts` (new rows are mirrored by verificationlog_mirror)",
        otherwise=_backfill_gap(revisions),
    )
