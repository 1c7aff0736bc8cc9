"""The refusals of the schema revisions, in one place: what each checks before it changes anything.

The revisions call these themselves — 0001_baseline refuses a database Prisma built (adopt it
instead), 0006 refuses until the backfills are done, 0008 while a student has two active sessions
for a lab — and `forgea migrate upgrade --dry-run` runs the same checks (`refusal_on_the_way`)
before it renders any SQL, so a dry run refuses exactly where, and as, the real run would.

A dry run may start before the expand (0002), when the columns 0006 judges do not exist yet: the
expand adds them empty (it moves no data), so their checks are predicted from the legacy columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, text

from forgea_cli.db.duplicate_queries import COUNT_ACTIVE_DUPLICATES
from forgea_cli.db.prisma_bookkeeping import PRISMA_MIGRATIONS_EXIST
from forgea_cli.documents import plural
from forgea_cli.errors import DataNotReady, ForgeaError, OperationFailed

BASELINE = "0001_baseline"
CONTRACT_CHECKS = "0006_f6_contract_checks"
CONTRACT_ACTIVE_SESSION = "0008_f6_contract_active_session"

PRISMA_BUILT = PRISMA_MIGRATIONS_EXIST
PRISMA_REFUSAL = (
    "this database was built by Prisma: adopt it with `forgea migrate adopt` instead of upgrading "
    "through the baseline"
)

ACTIVE_DUPLICATES = COUNT_ACTIVE_DUPLICATES
DUPLICATES_MESSAGE = (
    "{students} more than one active session for a lab: run `forgea backfill resolve-duplicates`"
)


@dataclass(frozen=True)
class Check:
    """One count that must be zero. ``before_expand``: the same count while the column it judges
    does not exist yet (``column``), i.e. as it will be right after the expand."""

    query: str
    message: str
    column: str | None = None
    before_expand: str | None = None


CONTRACT = (
    Check(
        'SELECT count(*) FROM "LabSession" WHERE "labVersionId" IS NULL',
        "{sessions} no labVersionId: run `forgea backfill lab-versions`",
        column="labVersionId",
        before_expand='SELECT count(*) FROM "LabSession"',
    ),
    Check(
        """SELECT count(*) FROM "LabSession"
           WHERE ("completedAt" IS NOT NULL) <> ("status" = 'VERIFIED_PASS')""",
        "{sessions} completedAt out of step with VERIFIED_PASS: run `forgea backfill completed-at`",
        column="completedAt",
        before_expand="""SELECT count(*) FROM "LabSession" WHERE "status" = 'VERIFIED_PASS'""",
    ),
    Check(ACTIVE_DUPLICATES, DUPLICATES_MESSAGE),
)


def _has_column(connection: Connection, column: str) -> bool:
    query = text(
        """SELECT EXISTS (SELECT 1 FROM information_schema.columns
                          WHERE table_schema = current_schema() AND table_name = 'LabSession'
                            AND column_name = :column)"""
    )
    return bool(connection.execute(query, {"column": column}).scalar())


def _has_sessions_table(connection: Connection) -> bool:
    return bool(connection.execute(text("""SELECT to_regclass('"LabSession"') IS NOT NULL""")).scalar())


def _problems(connection: Connection, checks: tuple[Check, ...]) -> list[str]:
    if not _has_sessions_table(connection):
        return []  # the baseline has not run: no rows yet, nothing to refuse
    problems = []
    for check in checks:
        query = check.query
        if check.column is not None and not _has_column(connection, check.column):
            query = check.before_expand or query
        count = connection.execute(text(query)).scalar()
        if count:
            problems.append(check.message.format(**_subjects(count)))
    return problems


def _subjects(count: int) -> dict[str, str]:
    """``1 session has`` / ``2 sessions have``: the subject of a refusal, plural right."""
    verb = "has" if count == 1 else "have"
    return {noun + "s": f"{plural(count, noun)} {verb}" for noun in ("session", "student")}


def refuse_prisma_database(connection: Connection) -> None:
    """0001_baseline builds the tables; on a database Prisma already built it must adopt instead."""
    if connection.execute(text(PRISMA_BUILT)).scalar():
        raise OperationFailed(PRISMA_REFUSAL)


def refuse_unless_contract_ready(connection: Connection) -> None:
    """0006: every session versioned, completedAt in step, no active duplicates."""
    problems = _problems(connection, CONTRACT)
    if problems:
        raise DataNotReady("; ".join(problems) + " (nothing was changed)")


def refuse_while_duplicates(connection: Connection) -> None:
    """0008: the one-active-session index cannot be built over duplicates."""
    problems = _problems(connection, (Check(ACTIVE_DUPLICATES, DUPLICATES_MESSAGE),))
    if problems:
        raise DataNotReady("; ".join(problems) + " (nothing was changed)")


# revision -> its refusal (what it checks before its first statement)
REFUSALS: dict[str, Callable[[Connection], None]] = {
    BASELINE: refuse_prisma_database,
    CONTRACT_CHECKS: refuse_unless_contract_ready,
    CONTRACT_ACTIVE_SESSION: refuse_while_duplicates,
}


@dataclass(frozen=True)
class Refusal:
    """The revision an upgrade would stop at, the last one it would have applied, and why."""

    revision: str
    applied_before: str | None
    error: ForgeaError


def refusal_on_the_way(connection: Connection, path: list[str], current: str | None) -> Refusal | None:
    """The first revision of ``path`` (oldest first, not yet applied) that would refuse, judged on
    the data as it is now — as it will be when the upgrade reaches it, since revisions move no data."""
    applied = current
    for revision in path:
        refuse = REFUSALS.get(revision)
        if refuse is not None:
            try:
                refuse(connection)
            except ForgeaError as error:
                return Refusal(revision, applied, error)
        applied = revision
    return None
