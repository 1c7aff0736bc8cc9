"""`forgea rollout status`: the runbook as a checklist — each step done, or the command to run next.

Two halves: ``gather`` reads the facts (the revision, the backfills' own pending counts, the mapping
backfill's plan, the contract's readiness queries, `verify-constraints`), and ``checklist`` turns
facts into steps — pure, so every state of a rollout is a unit test away. A step that cannot be
measured yet (its tables come with an earlier step) is *blocked*, never done.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from forgea_cli.db import rollout_status as measures
from forgea_cli.db.uow import UnitOfWorkFactory
from forgea_cli.documents import plural
from forgea_cli.errors import Conflict
from forgea_cli.services.rollout import migrations

EXPAND = migrations.EXPAND  # the runbook's expand (services/rollout/migrations.py)
KEYSET_BACKFILLS = tuple(measures.KEYSET_BACKFILLS)  # lab-versions, completed-at, verification-attempts

DONE, TODO, BLOCKED = "done", "todo", "blocked"


@dataclass(frozen=True)
class VerifySummary:
    ok: bool
    failed: int
    warnings: int


@dataclass(frozen=True)
class RolloutFacts:
    """What the database says, read once. None: not measurable yet (its tables do not exist)."""

    current: str | None
    head: str
    revisions: tuple[str, ...]  # every revision this build knows, oldest first
    prisma_built: bool
    remaining: dict[str, int] | None = None  # keyset backfill -> rows still to change
    unmapped_sessions: int | None = None
    mappable_sessions: int | None = None  # what `mapping backfill` would map now
    mapping_problems: int | None = None  # unmapped sessions it reports instead (never maps)
    mapping_busy: str | None = None  # a mapping backfill holds its lock: why it was not measured
    duplicate_students: int | None = None
    pending_mappings: int | None = None
    verify: VerifySummary | None = None

    @property
    def unknown_revision(self) -> bool:
        return self.current is not None and self.current not in self.revisions

    @property
    def adopted(self) -> bool:
        return self.current is not None and not self.unknown_revision

    def at_least(self, revision: str) -> bool:
        return self.adopted and self.revisions.index(self.current) >= self.revisions.index(revision)

    @property
    def expanded(self) -> bool:
        return self.at_least(EXPAND)

    @property
    def at_head(self) -> bool:
        return self.current == self.head


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    state: str  # done | todo | blocked
    detail: str
    next: str | None = None  # the exact command to run (todo), or what it waits for (blocked)

    @property
    def done(self) -> bool:
        return self.state == DONE

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.id,
            "title": self.title,
            "state": self.state,
            "detail": self.detail,
            "next": self.next,
        }


@dataclass(frozen=True)
class RolloutStatus:
    facts: RolloutFacts
    steps: list[Step] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return all(step.done for step in self.steps)

    @property
    def next(self) -> str | None:
        """The first command to run: the next step that is not done and can be done now."""
        return next((s.next for s in self.steps if s.state == TODO and s.next), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "revision": self.facts.current,
            "head": self.facts.head,
            "next": self.next,
            "steps": [step.to_json() for step in self.steps],
        }


# -- facts -------------------------------------------------------------------------------------------


def gather(
    uow: UnitOfWorkFactory, *, web_host: str = "https://github.com", verify: bool = True
) -> RolloutFacts:
    """Read everything the checklist judges (read-only; `verify-constraints`' probes roll back)."""
    state = migrations.status(uow)
    revisions = tuple(r.revision for r in migrations.history())
    with uow(read_only=True) as work:
        conn = work.connection
        facts = RolloutFacts(state.current, state.head, revisions, measures.prisma_built(conn))
        if not facts.adopted:
            return facts
        duplicates = measures.duplicate_students(conn) if measures.has_sessions_table(conn) else 0
        counts = measures.expanded_counts(conn) if facts.expanded else None
    facts = _with(facts, duplicate_students=duplicates)
    if counts is None:
        return facts
    facts = _with(
        facts,
        remaining=counts.remaining,
        unmapped_sessions=counts.unmapped_sessions,
        duplicate_students=counts.duplicate_students,
        pending_mappings=counts.pending_mappings,
    )
    facts = _with(facts, **_mapping_plan(uow, counts.unmapped_sessions, web_host))
    if verify and facts.at_head:
        facts = _with(facts, verify=_verify(uow, web_host))
    return facts


def _with(facts: RolloutFacts, **changes: Any) -> RolloutFacts:
    return replace(facts, **changes)


def _mapping_plan(uow: UnitOfWorkFactory, unmapped: int, web_host: str) -> dict[str, Any]:
    """What the mapping backfill would map now (its own dry run: the same stage and plan)."""
    if unmapped == 0:
        return {"mappable_sessions": 0, "mapping_problems": 0}
    from forgea_cli.services.mapping import backfill_repo_mappings

    try:
        report = backfill_repo_mappings(uow, dry_run=True, web_host=web_host)
    except Conflict as busy:  # a mapping backfill is running: its lock is held
        return {"mapping_busy": busy.message}
    return {"mappable_sessions": report.pending, "mapping_problems": report.details.get("problems_total", 0)}


def _verify(uow: UnitOfWorkFactory, web_host: str) -> VerifySummary:
    from forgea_cli.services.verify import VerifyOptions, verify_constraints

    report = verify_constraints(uow, VerifyOptions(web_url=web_host))
    counts = report.counts()
    return VerifySummary(report.ok, counts.get("fail", 0), counts.get("warn", 0))


# -- the checklist (pure) -------------------------------------------------------------------------------


def checklist(facts: RolloutFacts) -> RolloutStatus:
    """The runbook's steps in its order, each judged from ``facts`` alone."""
    steps = [_adopted(facts), _expanded(facts)]
    steps += [_keyset_backfill(facts, name) for name in KEYSET_BACKFILLS]
    steps += [_repo_mappings(facts), _duplicates(facts), _contract(facts), _resolved(facts), _verified(facts)]
    return RolloutStatus(facts, steps)


def _blocked(step_id: str, title: str, after: str) -> Step:
    return Step(step_id, title, BLOCKED, f"measurable after {after}", f"after {after}")


def _adopted(facts: RolloutFacts) -> Step:
    title = "adopted (baseline stamped)"
    if facts.unknown_revision:
        return Step(
            "adopted",
            title,
            TODO,
            f"the database is at revision {facts.current}, which this build of forgea does not know",
            "install the forgea release that wrote it",
        )
    if facts.adopted:
        return Step("adopted", title, DONE, f"at revision {facts.current}")
    if facts.prisma_built:
        return Step("adopted", title, TODO, "built by Prisma, not adopted yet", "forgea migrate adopt")
    return Step("adopted", title, TODO, "no revision: a new database", "forgea migrate upgrade")


def _expanded(facts: RolloutFacts) -> Step:
    title = f"expanded ({EXPAND})"
    if not facts.adopted:
        return _blocked("expanded", title, "adopted")
    if facts.expanded:
        return Step("expanded", title, DONE, f"at revision {facts.current}")
    return Step("expanded", title, TODO, f"at revision {facts.current}", f"forgea migrate upgrade {EXPAND}")


def _keyset_backfill(facts: RolloutFacts, name: str) -> Step:
    step_id, title = f"backfill.{name}", f"backfill {name}"
    if facts.remaining is None:
        return _blocked(step_id, title, "expanded")
    left = facts.remaining.get(name, 0)
    if left == 0:
        return Step(step_id, title, DONE, "nothing left to change")
    return Step(step_id, title, TODO, f"{_rows(left)} to change", f"forgea backfill {name}")


def _repo_mappings(facts: RolloutFacts) -> Step:
    step_id, title = "backfill.repo-mappings", "backfill repo-mappings"
    if facts.unmapped_sessions is None:
        return _blocked(step_id, title, "expanded")
    if facts.mapping_busy is not None:
        return Step(step_id, title, TODO, facts.mapping_busy, "forgea mapping backfill")
    problems = facts.mapping_problems or 0
    reported = (
        f"; {_sessions(problems)} reported, never mapped (forgea mapping backfill --dry-run)"
        if problems
        else ""
    )
    if not facts.mappable_sessions:
        return Step(step_id, title, DONE, f"nothing left to map{reported}")
    return Step(
        step_id,
        title,
        TODO,
        f"{_sessions(facts.mappable_sessions)} to map{reported}",
        "forgea mapping backfill",
    )


def _duplicates(facts: RolloutFacts) -> Step:
    step_id, title = "duplicates", "duplicate active sessions resolved"
    if facts.duplicate_students is None:
        return _blocked(step_id, title, "adopted")
    if facts.duplicate_students == 0:
        return Step(step_id, title, DONE, "no student has two active sessions for a lab")
    students = (
        "1 student has" if facts.duplicate_students == 1 else f"{facts.duplicate_students:,} students have"
    )
    return Step(
        step_id,
        title,
        TODO,
        f"{students} more than one active session for a lab",
        "forgea backfill resolve-duplicates",
    )


def _contract(facts: RolloutFacts) -> Step:
    title = "contract (schema at head)"
    if not facts.adopted:
        return _blocked("contract", title, "adopted")
    if facts.at_head:
        return Step("contract", title, DONE, f"at revision {facts.current}")
    return Step(
        "contract",
        title,
        TODO,
        f"at revision {facts.current}; head is {facts.head}",
        "forgea migrate upgrade",
    )


def _resolved(facts: RolloutFacts) -> Step:
    step_id, title = "mappings.resolved", "repository ids resolved"
    if facts.pending_mappings is None:
        return _blocked(step_id, title, "expanded")
    if facts.mappable_sessions or facts.mapping_busy:  # the backfill will add PENDING mappings
        return _blocked(step_id, title, "backfill repo-mappings")
    if facts.pending_mappings == 0:
        return Step(step_id, title, DONE, "no mapping is PENDING")
    pending = plural(facts.pending_mappings, "mapping")
    return Step(step_id, title, TODO, f"{pending} still PENDING", "forgea mapping resolve-ids")


def _verified(facts: RolloutFacts) -> Step:
    step_id, title = "verify-constraints", "verify-constraints"
    if facts.verify is None:
        return _blocked(step_id, title, "contract")
    result = facts.verify
    warnings = f", {plural(result.warnings, 'warning')}" if result.warnings else ""
    if result.ok:
        return Step(step_id, title, DONE, f"passed{warnings}")
    failed = f"{plural(result.failed, 'check')} failed"
    return Step(step_id, title, TODO, f"{failed}{warnings}", "forgea verify-constraints")


def _rows(count: int) -> str:
    return plural(count, "row")


def _sessions(count: int) -> str:
    return plural(count, "session")


def rollout_status(
    uow: UnitOfWorkFactory, *, web_host: str = "https://github.com", verify: bool = True
) -> RolloutStatus:
    """The checklist of the database behind ``uow`` now (the verb `forgea rollout status` calls)."""
    return checklist(gather(uow, web_host=web_host, verify=verify))
