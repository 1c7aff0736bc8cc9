"""Data invariants: set-based, read-only queries over the whole tables, fast at a million sessions.

A gap that a backfill closes is a warning while the contract revision that relies on it is not
applied yet (the rollout is under way), and a failure afterwards. Mapping coverage stays a figure
(a warning): resolving repository ids depends on GitHub and may lag.
"""

from __future__ import annotations

from typing import Any

from forgea_cli.db import invariants as q
from forgea_cli.db.invariants import Figure
from forgea_cli.db.uow import Connection
from forgea_cli.documents import plural
from forgea_cli.errors import InvalidInput
from forgea_cli.services.sessions.idempotency import LEASE_SECONDS
from forgea_cli.services.verify.results import CheckResult, CheckStatus, judged, passed, warned
from forgea_cli.services.verify.revisions import ACTIVE_INDEX, CONTRACT, EXPAND, AppliedRevisions
from forgea_cli.urls import canonical_repo_url

EXAMPLES = q.EXAMPLES


def check_data(connection: Connection, revisions: AppliedRevisions, web_url: str) -> list[CheckResult]:
    """Run inside one read-only snapshot (`db.invariants.read_only_snapshot`)."""
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


REPLICA_LAG_WARNING = 1.0  # seconds


def replica_lag(connection: Connection) -> CheckResult:
    """How far behind the replica the data checks read is: their figures are as of then."""
    lag = q.replay_lag_seconds(connection)
    if lag is None:
        return warned(
            "data.replica.lag",
            "FORGEA_REPLICA_URL",
            "FORGEA_REPLICA_URL is not a standby (pg_is_in_recovery() is false)",
            hint="point FORGEA_REPLICA_URL at a streaming standby, or unset it",
        )
    return judged(
        lag <= REPLICA_LAG_WARNING,
        "data.replica.lag",
        "FORGEA_REPLICA_URL",
        f"the data checks read a replica {lag:.3f} s behind the primary",
        expected={"lag_seconds_at_most": REPLICA_LAG_WARNING},
        found={"lag_seconds": lag},
        hint="the data figures are as of the replica's last replayed transaction",
        otherwise=CheckStatus.WARN,
    )


def _backfill_gap(revisions: AppliedRevisions) -> CheckStatus:
    return CheckStatus.FAIL if revisions.has(CONTRACT) else CheckStatus.WARN


def _figure(count: int | Figure, examples: list[str] | None = None) -> dict[str, Any]:
    if isinstance(count, Figure):
        count, examples = count.count, count.examples
    return {"count": count, "examples": examples} if examples else {"count": count}


# --- LabSession ------------------------------------------------------------------------------------


def _active_duplicates(connection: Connection, revisions: AppliedRevisions) -> CheckResult:
    duplicates = q.active_duplicates(connection)
    count = duplicates.count
    return judged(
        count == 0,
        "data.active_sessions.unique",
        "LabSession",
        "no student has two active sessions for one lab"
        if count == 0
        else f"{count} students have more than one active (IN_PROGRESS or STUCK) session for a lab",
        expected=_figure(0),
        found=_figure(duplicates),
        hint="`forgea backfill resolve-duplicates` defers all but the most recently active one",
        otherwise=CheckStatus.FAIL if revisions.has(ACTIVE_INDEX) else CheckStatus.WARN,
    )


def _session_columns(connection: Connection, revisions: AppliedRevisions) -> list[CheckResult]:
    row = q.session_columns(connection)
    return [
        _completed_at(connection, revisions, row.unstamped, row.stray),
        _lab_version(revisions, row.unversioned),
    ]


def _completed_at(
    connection: Connection, revisions: AppliedRevisions, unstamped: int, stray: int
) -> CheckResult:
    check_id, obj = "data.completed_at", "LabSession.completedAt"
    if stray:
        examples = q.stray_completed_examples(connection)
        return judged(
            False,
            check_id,
            obj,
            f"{plural(stray, 'session')} that {_are(stray)} not VERIFIED_PASS {_have(stray)} completedAt set",
            expected=_figure(0),
            found=_figure(stray, examples),
            hint="completedAt is set only by the lifecycle trigger on entering VERIFIED_PASS; "
            "find the writer that sets it",
        )
    if unstamped:
        examples = q.unstamped_examples(connection)
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


def _mappings(connection: Connection, web_url: str) -> list[CheckResult]:
    links = stats = q.mapping_figures(connection, web_url)
    doubled = stats.doubled
    return [
        judged(
            links.orphans == 0,
            "data.mapping.session_exists",
            "GitHubRepoMapping",
            "every mapping's session exists"
            if not links.orphans
            else f"{plural(links.orphans, 'mapping')} {_name(links.orphans)} a session that does not exist",
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
            else f"{plural(doubled, 'session')} {_have(doubled)} more than one mapping",
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
            f"{plural(links.unmapped, 'session')} {_have(links.unmapped)} no repository mapping",
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
    for value in q.maybe_not_canonical(connection, web_url):
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
        f"{plural(len(wrong), 'mapping')} {_have(len(wrong))} a canonicalUrl that is not canonical",
        expected=_figure(0),
        found=_figure(len(wrong), wrong[:EXAMPLES]),
        hint="rewrite them with the canonical form (`forgea mapping canonicalize URL`)",
    )


def _figure_result(
    check_id: str, obj: str, count: int, ok: str, gap: str, hint: str, found: dict[str, Any] | None = None
) -> CheckResult:
    if count == 0:
        return passed(check_id, obj, ok, expected=_figure(0), found=found or _figure(0))
    return warned(check_id, obj, gap, expected=_figure(0), found=found or _figure(count), hint=hint)


# --- idempotency keys and verification logs -------------------------------------------------------


def _stuck_keys(connection: Connection) -> CheckResult:
    stuck = q.stuck_keys(connection, LEASE_SECONDS)
    count = stuck.count
    return judged(
        count == 0,
        "data.idempotency.stuck_keys",
        "IdempotencyKey",
        "no session creation is stuck before FINISHED"
        if not count
        else f"{count} idempotency keys are stuck before FINISHED "
        f"for longer than the {LEASE_SECONDS:.0f} s lease",
        expected=_figure(0),
        found=_figure(stuck),
        hint="`forgea keys list`, then `forgea keys resume KEY` or `forgea keys abandon KEY`",
    )


def _logs_without_attempt(connection: Connection, revisions: AppliedRevisions) -> CheckResult:
    missing = q.logs_without_attempt(connection)
    count = missing.count
    return judged(
        count == 0,
        "data.verification_log.attempt",
        "VerificationAttempt",
        "every VerificationLog row has its attempt"
        if not count
        else f"{count} VerificationLog rows have no VerificationAttempt",
        expected=_figure(0),
        found=_figure(missing),
        hint="`forgea backfill verification-attempts` (new rows are mirrored by verificationlog_mirror)",
        otherwise=_backfill_gap(revisions),
    )


def _have(count: int) -> str:
    return "has" if count == 1 else "have"


def _are(count: int) -> str:
    return "is" if count == 1 else "are"


def _name(count: int) -> str:
    return "names" if count == 1 else "name"
