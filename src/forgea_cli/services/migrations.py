"""Schema migration services: status, upgrade/downgrade (or their SQL), and adopting a Prisma database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, text

from forgea_cli.db import migrations
from forgea_cli.db.adoption import record_adopted
from forgea_cli.db.catalog import snapshot
from forgea_cli.db.engine import connect
from forgea_cli.db.snapshots import load_snapshot
from forgea_cli.errors import OperationFailed
from forgea_cli.services.catalog_check import check_catalog
from forgea_cli.services.schema_manifest import DEPENDED, DEPENDED_ON
from forgea_cli.services.verify import catalog_checks
from forgea_cli.services.verify_migrations import applied_revisions
from forgea_cli.services.verify_probes import run_probes
from forgea_cli.services.verify_results import CheckResult, CheckStatus
from forgea_cli.sql_text import fingerprint

BASELINE = "0001_baseline"


@dataclass(frozen=True)
class MigrationStatus:
    current: str | None
    head: str
    pending: list[migrations.Revision]
    unknown: bool  # the database names a revision this build does not know

    @property
    def at_head(self) -> bool:
        return self.current == self.head


@dataclass(frozen=True)
class AdoptResult:
    action: str  # stamped | already-adopted | would-stamp
    revision: str
    prisma_migrations: list[str] = field(default_factory=list)
    sql: str = ""
    checks: list[CheckResult] = field(default_factory=list)  # catalog and probes, as judged
    recorded: list[dict[str, Any]] = field(default_factory=list)  # what was (or would be) recorded

    @property
    def text_differences(self) -> list[CheckResult]:
        return [c for c in self.checks if c.diff]


class AdoptRefused(OperationFailed):
    def __init__(self, message: str, checks: list[CheckResult] | None = None) -> None:
        super().__init__(message)
        self.checks = checks or []

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status is CheckStatus.FAIL]


def status(engine: Engine) -> MigrationStatus:
    with connect(engine) as connection:
        current = migrations.current_revision(connection)
    return _status_of(current)


def _status_of(current: str | None) -> MigrationStatus:
    order = migrations.history()
    names = [r.revision for r in order]
    unknown = current is not None and current not in names
    start = 0 if current is None or unknown else names.index(current) + 1
    return MigrationStatus(current, migrations.head_revision(), [] if unknown else order[start:], unknown)


def current(engine: Engine) -> str | None:
    with connect(engine) as connection:
        return migrations.current_revision(connection)


def prisma_migration_names(connection: Connection) -> list[str] | None:
    """Finished Prisma migrations, or None when the table does not exist. Read-only."""
    if not connection.execute(
        text("SELECT to_regclass('public.\"_prisma_migrations\"') IS NOT NULL")
    ).scalar():
        return None
    rows = connection.execute(
        text(
            "SELECT migration_name, finished_at IS NOT NULL AND rolled_back_at IS NULL AS done "
            'FROM "_prisma_migrations" ORDER BY started_at, migration_name'
        )
    ).all()
    unfinished = [name for name, done in rows if not done]
    if unfinished:
        raise AdoptRefused(f"Prisma migrations not finished or rolled back: {', '.join(unfinished)}")
    return [name for name, _ in rows]


def adopt(
    engine: Engine,
    *,
    dry_run: bool = False,
    actor: str = "forgea",
    timeouts: migrations.Timeouts = migrations.Timeouts(),
) -> AdoptResult:
    """Judge a Prisma-built database by ownership and behaviour; stamp it and record what was adopted."""
    with connect(engine) as connection:
        existing = migrations.current_revision(connection)
        if existing is not None:
            return AdoptResult("already-adopted", existing)
        names, found, checks = _judge_prisma_database(connection)
        connection.rollback()
    failures = [c for c in checks if c.status is CheckStatus.FAIL]
    if failures:
        raise AdoptRefused(
            f"the database is not a Forgea database forgea can adopt: {len(failures)} check(s) failed, "
            f"first: {failures[0].message}; nothing was stamped",
            checks,
        )
    records = adoption_records(found, actor)
    attributes = {"adopted_objects": records}
    if dry_run:
        sql = migrations.render_sql(None, BASELINE, attributes=attributes)
        return AdoptResult("would-stamp", BASELINE, names, sql, checks, records)
    migrations.upgrade(engine, BASELINE, timeouts, attributes=attributes)
    return AdoptResult("stamped", BASELINE, names, checks=checks, recorded=records)


@dataclass(frozen=True)
class RefreshResult:
    revision: str
    changed: list[CheckResult]  # the text changes accepted (or that would be), with their diffs
    dry_run: bool


def refresh_adoption(engine: Engine, *, actor: str, dry_run: bool = False) -> RefreshResult:
    """Accept the web app's rewritten functions and triggers once the probes show they still behave."""
    with connect(engine) as connection:
        current = migrations.current_revision(connection)
        if current is None:
            raise AdoptRefused("the database was never adopted: run `forgea migrate adopt` first")
        found = snapshot(connection)
        revisions = applied_revisions(current)
        checks = run_probes(connection, revisions)
        checks += catalog_checks(connection, load_snapshot(current), found, revisions)
        connection.rollback()
        failures = [c for c in checks if c.status is CheckStatus.FAIL]
        if failures:
            raise AdoptRefused(
                f"not refreshed: {len(failures)} check(s) fail, first: {failures[0].message}", checks
            )
        changed = [c for c in checks if c.id.endswith(".text") and c.kind == DEPENDED]
        names = {(c.id.split(".")[1], c.object) for c in changed}
        records = [r for r in adoption_records(found, actor) if (r["kind"], r["name"]) in names]
        if records and not dry_run:
            record_adopted(connection, records)
            connection.commit()
    return RefreshResult(current, changed, dry_run)


def _judge_prisma_database(connection: Connection) -> tuple[list[str], dict[str, Any], list[CheckResult]]:
    names = prisma_migration_names(connection)
    if names is None:
        refusal = AdoptRefused("not a Prisma-built database: there is no _prisma_migrations table")
        refusal.hint = "an empty database is set up with `forgea migrate upgrade` instead"
        raise refusal
    found = snapshot(connection)
    baseline = load_snapshot(BASELINE)
    checks = check_catalog(baseline, found, baseline=baseline, history=[baseline], adopting=True)
    checks += run_probes(connection, applied_revisions(BASELINE))
    return names, found, checks


def adoption_records(found: dict[str, Any], actor: str) -> list[dict[str, Any]]:
    """The depended-on functions and triggers as found: their definition and fingerprint."""
    records = []
    for need in DEPENDED_ON.functions:
        entry = found["functions"].get(need.name)
        if entry is not None:
            records.append(_record("function", need.name, None, entry["definition"], entry["body"], actor))
    for trigger in DEPENDED_ON.triggers:
        entry = found["triggers"].get(trigger.name)
        if entry is not None:
            definition = entry["definition"]
            records.append(
                _record("trigger", trigger.name, entry["table"], definition, fingerprint(definition), actor)
            )
    return records


def _record(
    kind: str, name: str, table: str | None, definition: str, print_: str, actor: str
) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": name,
        "tableName": table,
        "definition": definition,
        "fingerprint": print_,
        "adoptedBy": actor,
    }


def upgrade(engine: Engine, target: str, timeouts: migrations.Timeouts) -> tuple[str | None, str]:
    return migrations.upgrade(engine, target, timeouts)


def downgrade(engine: Engine, target: str, timeouts: migrations.Timeouts) -> tuple[str | None, str]:
    return migrations.downgrade(engine, target, timeouts)


def upgrade_sql(engine: Engine, target: str) -> str:
    return migrations.render_sql(current(engine), target)


def downgrade_sql(engine: Engine, target: str) -> str:
    return migrations.render_sql(current(engine), target, downgrade_to=True)


def default_timeouts() -> migrations.Timeouts:
    return migrations.Timeouts()
