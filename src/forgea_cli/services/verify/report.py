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

from forgea_cli.db import migrations
from forgea_cli.db.adoption import adopted_records
from forgea_cli.db.catalog import snapshot
from forgea_cli.db.errors import DatabaseRefused
from forgea_cli.db.invariants import read_only_snapshot
from forgea_cli.db.snapshots import load_snapshot
from forgea_cli.db.uow import Connection, UnitOfWork, UnitOfWorkFactory
from forgea_cli.errors import InvalidInput
from forgea_cli.services.verify.catalog import AdoptedObject, check_catalog
from forgea_cli.services.verify.data import check_data, replica_lag
from forgea_cli.services.verify.migrations import applied_revisions, check_migrations
from forgea_cli.services.verify.probes import run_probes
from forgea_cli.services.verify.results import (
    GROUPS,
    STATUS_ORDER,
    CheckResult,
    CheckStatus,
    failed,
    skipped,
)
from forgea_cli.services.verify.revisions import BASELINE, AppliedRevisions

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

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "exitCode": self.exit_code,
            "database": {"revision": self.revisions.current, "head": self.revisions.head},
            "options": {
                "groups": list(self.options.selected()),
                "probes": self.options.probes,
                "failOn": self.options.fail_on,
            },
            "summary": {
                **self.counts(),
                "groups": {group: self.counts(results) for group, results in self.by_group().items()},
            },
            "seconds": {group: round(s, 3) for group, s in self.seconds.items()},
            "checks": [r.to_json() for r in self.ordered()],
        }


def verify_constraints(
    uow: UnitOfWorkFactory,
    options: VerifyOptions = VerifyOptions(),
    *,
    replica: UnitOfWorkFactory | None = None,
) -> VerifyReport:
    """``replica``: the data checks read from it (and its lag is reported); the rest needs the primary."""
    groups = options.selected()
    revisions = applied_revisions(migrations.current_revision_of(uow))
    report = VerifyReport(revisions, options)
    runners: dict[str, Callable[[UnitOfWork], list[CheckResult]]] = {
        "migrations": lambda work: check_migrations(revisions),
        "catalog": lambda work: _catalog(work.connection, revisions),
        "probes": lambda work: run_probes(work, revisions),
        "data": lambda work: _data(work.connection, revisions, options),
    }
    for group in groups:
        started = time.perf_counter()
        if group == "migrations" or revisions.managed:
            source = replica if group == "data" and replica is not None else uow
            report.results += _run_group(source, group, runners[group])
            if group == "data" and replica is not None:
                report.results += _run_group(replica, group, lambda work: [replica_lag(work.connection)])
        else:
            report.results += _unmanaged(group)
        report.seconds[group] = time.perf_counter() - started
    if options.fail_on == "warn":
        report.results = [r.escalated() if r.status is CheckStatus.WARN else r for r in report.results]
    return report


def _run_group(
    uow: UnitOfWorkFactory, group: str, run: Callable[[UnitOfWork], list[CheckResult]]
) -> list[CheckResult]:
    """Each group in its own unit of work, never committed. A group the database cannot even run
    (a table forgea depends on is gone) fails; the others go on."""
    try:
        with uow() as work:
            return run(work)
    except DatabaseRefused as exc:
        return [
            failed(
                f"{group}.run",
                "database",
                f"the {group} checks could not run: {exc.detail}",
                hint="see the catalog checks: something forgea depends on is missing",
            )
        ]


def _unmanaged(group: str) -> list[CheckResult]:
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
