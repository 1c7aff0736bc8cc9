"""Adopting the database Prisma built (DESIGN §2a): judged by ownership and behaviour, never by text.

`adopt` checks what forgea depends on (catalog engine + probes in a rolled-back transaction), then
runs the baseline revision in adopt mode: it creates "ForgeaAdoptedObject", records the web app's
functions and triggers as found, and stamps 0001_baseline. `refresh_adoption` accepts a rewrite
the web app made on purpose, once the probes show it still behaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from forgea_cli.db import migrations
from forgea_cli.db.adoption import record_adopted
from forgea_cli.db.catalog import snapshot
from forgea_cli.db.prisma_bookkeeping import prisma_migrations
from forgea_cli.db.snapshots import load_snapshot
from forgea_cli.db.uow import UnitOfWork, UnitOfWorkFactory
from forgea_cli.errors import OperationFailed
from forgea_cli.services.rollout.migrations import BASELINE
from forgea_cli.services.verify import catalog_checks, check_catalog
from forgea_cli.services.verify.manifest import DEPENDED, DEPENDED_ON
from forgea_cli.services.verify.migrations import applied_revisions
from forgea_cli.services.verify.probes import run_probes
from forgea_cli.services.verify.results import CheckResult, CheckStatus
from forgea_cli.sql_text import fingerprint


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

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "revision": self.revision,
            "prismaMigrations": self.prisma_migrations,
            "recorded": [{k: r[k] for k in ("kind", "name", "fingerprint")} for r in self.recorded],
            "textDifferences": [text_difference(c) for c in self.text_differences],
            "checks": self.checks,
            **({"sql": self.sql} if self.action == "would-stamp" else {}),
        }


def text_difference(check: CheckResult) -> dict[str, Any]:
    return {"object": check.object, "kind": check.kind, "message": check.message, "diff": check.diff}


class AdoptRefused(OperationFailed):
    def __init__(self, message: str, checks: list[CheckResult] | None = None) -> None:
        super().__init__(message)
        self.checks = checks or []

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status is CheckStatus.FAIL]

    @property
    def result(self) -> dict[str, Any]:
        """What the refusal found: the error document's ``result`` under --json."""
        return {"action": "refused", "reason": self.message, "failures": self.failures, "checks": self.checks}


@dataclass(frozen=True)
class RefreshResult:
    revision: str
    changed: list[CheckResult]  # the text changes accepted (or that would be), with their diffs
    dry_run: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "action": "would-refresh" if self.dry_run else "refreshed",
            "revision": self.revision,
            "textDifferences": [text_difference(c) for c in self.changed],
        }


def adopt(
    uow: UnitOfWorkFactory,
    *,
    dry_run: bool = False,
    actor: str = "forgea",
    timeouts: migrations.Timeouts = migrations.Timeouts(),
) -> AdoptResult:
    """Judge a Prisma-built database by ownership and behaviour; stamp it and record what was adopted."""
    with uow() as work:
        existing = migrations.current_revision(work.connection)
        if existing is not None:
            return AdoptResult("already-adopted", existing)
        names, found, checks = _judge_prisma_database(work)
    _refuse_on_failures(
        checks, "the database is not a Forgea database forgea can adopt", "nothing was stamped"
    )
    records = adoption_records(found, actor)
    attributes = {"adopted_objects": records}
    if dry_run:
        sql = migrations.render_sql(None, BASELINE, attributes=attributes)
        return AdoptResult("would-stamp", BASELINE, names, sql, checks, records)
    migrations.upgrade(uow, BASELINE, timeouts, attributes=attributes)
    return AdoptResult("stamped", BASELINE, names, checks=checks, recorded=records)


def refresh_adoption(uow: UnitOfWorkFactory, *, actor: str, dry_run: bool = False) -> RefreshResult:
    """Accept the web app's rewritten functions and triggers once the probes show they still behave."""
    with uow() as work:
        current = migrations.current_revision(work.connection)
        if current is None:
            raise AdoptRefused("the database was never adopted: run `forgea migrate adopt` first")
        found = snapshot(work.connection)
        revisions = applied_revisions(current)
        checks = run_probes(work, revisions)
        checks += catalog_checks(work.connection, load_snapshot(current), found, revisions)
        _refuse_on_failures(checks, "not refreshed", "nothing was recorded")
        changed = [c for c in checks if c.id.endswith(".text") and c.kind == DEPENDED]
        names = {(c.id.split(".")[1], c.object) for c in changed}
        records = [r for r in adoption_records(found, actor) if (r["kind"], r["name"]) in names]
        if records and not dry_run:
            record_adopted(work.connection, records)
            work.commit()
    return RefreshResult(current, changed, dry_run)


def _refuse_on_failures(checks: list[CheckResult], what: str, consequence: str) -> None:
    failures = [c for c in checks if c.status is CheckStatus.FAIL]
    if failures:
        raise AdoptRefused(
            f"{what}: {len(failures)} check(s) failed, first: {failures[0].message}; {consequence}", checks
        )


def _judge_prisma_database(work: UnitOfWork) -> tuple[list[str], dict[str, Any], list[CheckResult]]:
    names = _finished_prisma_migrations(work)
    found = snapshot(work.connection)
    baseline = load_snapshot(BASELINE)
    checks = check_catalog(baseline, found, baseline=baseline, history=[baseline], adopting=True)
    checks += run_probes(work, applied_revisions(BASELINE))
    return names, found, checks


def _finished_prisma_migrations(work: UnitOfWork) -> list[str]:
    rows = prisma_migrations(work.connection)
    if rows is None:
        refusal = AdoptRefused("not a Prisma-built database: there is no _prisma_migrations table")
        refusal.hint = "an empty database is set up with `forgea migrate upgrade` instead"
        raise refusal
    unfinished = [row.name for row in rows if not row.done]
    if unfinished:
        raise AdoptRefused(f"Prisma migrations not finished or rolled back: {', '.join(unfinished)}")
    return [row.name for row in rows]


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
