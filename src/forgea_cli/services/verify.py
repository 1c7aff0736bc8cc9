"""`verify-constraints`: catalog, behaviour probes, data invariants and migrations, as one report.

Read-only in effect: catalog and data checks only read (data in one REPEATABLE READ, READ ONLY
snapshot); the probes write inside one transaction that is always rolled back.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from forgea_cli.db import migrations
from forgea_cli.db.adoption import adopted_records
from forgea_cli.db.catalog import snapshot
from forgea_cli.db.engine import connect
from forgea_cli.db.snapshots import load_snapshot
from forgea_cli.errors import InvalidInput
from forgea_cli.services.catalog_check import AdoptedObject, check_catalog
from forgea_cli.services.verify_data import check_data, read_only_snapshot
from forgea_cli.services.verify_migrations import applied_revisions, check_migrations
from forgea_cli.services.verify_probes import run_probes
from forgea_cli.services.verify_results import (
    GROUPS,
    STATUS_ORDER,
    CheckResult,
    CheckStatus,
    failed,
    skipped,
)
from forgea_cli.services.verify_revisions import BASELINE, AppliedRevisions

FAIL_ON = ("error", "warn")


@dataclass(frozen=True)
class VerifyOptions:
    groups: tuple[str, ...] = GROUPS
    probes: bool = True
    fail_on: str = "error"  # "warn": warnings (coverage figures, foreign objects) fail too
    web_url: str = "https://github.com"  # the GitHub web host canonical URLs use

    def selected(self) -> tuple[str, ...]:
        unknown = sorted(set(self.groups) - set(GROUPS))
        if unknown:
            raise InvalidInput(f"unknown check group {', '.join(unknown)}; groups: {', '.join(GROUPS)}")
        if self.fail_on not in FAIL_ON:
            raise InvalidInput(f"--fail-on must be one of {', '.join(FAIL_ON)}, not {self.fail_on!r}")
        chosen = tuple(g for g in GROUPS if g in self.groups and (self.probes or g != "probes"))
        if not chosen:
            raise InvalidInput("no check group left to run (--only probes together with --no-probes)")
        return chosen


@dataclass
class VerifyReport:
    revisions: AppliedRevisions
    options: VerifyOptions
    results: list[CheckResult] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(r.status is CheckStatus.FAIL for r in self.results)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def ordered(self) -> list[CheckResult]:
        """By group, failures first; the checks' own order otherwise."""
        return sorted(self.results, key=lambda r: (GROUPS.index(r.group), STATUS_ORDER[r.status]))

    def by_group(self) -> dict[str, list[CheckResult]]:
        groups: dict[str, list[CheckResult]] = {}
        for result in self.ordered():
            groups.setdefault(result.group, []).append(result)
        return groups

    def counts(self, results: list[CheckResult] | None = None) -> dict[str, int]:
        tally = Counter(str(r.status) for r in (self.results if results is None else results))
        return {"total": sum(tally.values()), **{str(s): tally.get(str(s), 0) for s in CheckStatus}}

    def as_document(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "database": {"revision": self.revisions.current, "head": self.revisions.head},
            "options": {
                "groups": list(self.options.selected()),
                "probes": self.options.probes,
                "fail_on": self.options.fail_on,
            },
            "summary": {
                **self.counts(),
                "groups": {group: self.counts(results) for group, results in self.by_group().items()},
            },
            "seconds": {group: round(s, 3) for group, s in self.seconds.items()},
            "checks": [r.as_dict() for r in self.ordered()],
        }


def verify_constraints(engine: Engine, options: VerifyOptions = VerifyOptions()) -> VerifyReport:
    groups = options.selected()
    with connect(engine) as connection:
        revisions = applied_revisions(migrations.current_revision(connection))
        connection.rollback()
        report = VerifyReport(revisions, options)
        runners: dict[str, Callable[[], list[CheckResult]]] = {
            "migrations": lambda: check_migrations(revisions),
            "catalog": lambda: _unless_unmanaged(
                "catalog", revisions, lambda: _catalog(connection, revisions)
            ),
            "probes": lambda: _unless_unmanaged(
                "probes", revisions, lambda: run_probes(connection, revisions)
            ),
            "data": lambda: _unless_unmanaged(
                "data", revisions, lambda: _data(connection, revisions, options)
            ),
        }
        for group in groups:
            started = time.perf_counter()
            report.results += _run_group(connection, group, runners[group])
            report.seconds[group] = time.perf_counter() - started
            if connection.in_transaction():
                connection.rollback()
    if options.fail_on == "warn":
        report.results = [r.escalated() if r.status is CheckStatus.WARN else r for r in report.results]
    return report


def _run_group(connection: Connection, group: str, run: Callable[[], list[CheckResult]]) -> list[CheckResult]:
    """A group the database cannot even run (a table forgea depends on is gone) fails; the rest go on."""
    try:
        return run()
    except DBAPIError as exc:
        connection.rollback()
        first_line = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        return [
            failed(
                f"{group}.run",
                "database",
                f"the {group} checks could not run: {first_line}",
                hint="see the catalog checks: something forgea depends on is missing",
            )
        ]


def _unless_unmanaged(
    group: str, revisions: AppliedRevisions, run: Callable[[], list[CheckResult]]
) -> list[CheckResult]:
    if revisions.managed:
        return run()
    return [
        skipped(
            f"{group}.revision",
            "alembic_version",
            "skipped: the database has no forgea revision",
            hint="`forgea migrate adopt` or `forgea migrate upgrade` first",
        )
    ]


def _catalog(connection: Connection, revisions: AppliedRevisions) -> list[CheckResult]:
    try:
        expected = load_snapshot(str(revisions.current))
    except FileNotFoundError:
        return [
            failed(
                "catalog.snapshot",
                str(revisions.current),
                f"this build has no expected catalog for revision {revisions.current}",
                hint="run the forgea release that applied this revision",
            )
        ]
    return catalog_checks(connection, expected, snapshot(connection), revisions)


def catalog_checks(
    connection: Connection, expected: dict[str, Any], found: dict[str, Any], revisions: AppliedRevisions
) -> list[CheckResult]:
    """The live catalog ``found`` judged against the revision's ``expected`` snapshot, by ownership."""
    return check_catalog(
        expected,
        found,
        baseline=load_snapshot(BASELINE),
        history=[load_snapshot(revision) for revision in revisions.history],
        adopted=adopted_objects(connection),
    )


def adopted_objects(connection: Connection) -> dict[tuple[str, str], AdoptedObject]:
    return {
        (row["kind"], row["name"]): AdoptedObject(
            row["kind"], row["name"], row["definition"], row["fingerprint"], row["adoptedAt"]
        )
        for row in adopted_records(connection)
    }


def _data(connection: Connection, revisions: AppliedRevisions, options: VerifyOptions) -> list[CheckResult]:
    read_only_snapshot(connection)
    return check_data(connection, revisions, options.web_url)
