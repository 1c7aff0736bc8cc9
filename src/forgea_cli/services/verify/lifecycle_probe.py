"""Probing the live lifecycle trigger with every (from, to) pair and comparing it with `lifecycle.judge`.

Everything happens inside a transaction that is always rolled back (`probe_transaction`), on rows the
probe creates itself (`create_world`): a throwaway student and lab, so the trigger's lookups touch
only those rows and stay index-only on a table of any size. Each case runs in its own SAVEPOINT, so
one refusal does not abort the others.

A case puts a session in its start state by walking legal transitions (an insert is IN_PROGRESS
only; VERIFIED_PASS needs a PASS attempt first), optionally adds another active session for the same
student and lab, then attempts the change and classifies what the database said.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from forgea_cli.db import probe_rows as rows
from forgea_cli.db.errors import DatabaseRefused
from forgea_cli.db.probe_rows import PROBE_MARK, ProbeWorld, create_world
from forgea_cli.db.uow import UnitOfWork
from forgea_cli.lifecycle import ACTIVE, ALL_PAIRS, Facts, Outcome, Status, completed_at_on_entry, judge

__all__ = ["PROBE_MARK", "ProbeWorld", "create_world"]

A = TypeVar("A")
T = TypeVar("T")

# What the trigger of 0004_f6_lifecycle raises, by SQLSTATE.
OUTCOME_BY_SQLSTATE = {
    "P0001": Outcome.ILLEGAL,
    "FG002": Outcome.NEEDS_PASS_EVIDENCE,
    "FG003": Outcome.OTHER_ACTIVE_SESSION,
}
UNIQUE_VIOLATION = "23505"
# Legal walks from an insert (IN_PROGRESS) to each start state.
WALK_TO = {
    Status.IN_PROGRESS: (),
    Status.STUCK: (Status.STUCK,),
    Status.DEFERRED: (Status.DEFERRED,),
    Status.VERIFIED_PASS: (Status.VERIFIED_PASS,),
}


@contextmanager
def probe_transaction(uow: UnitOfWork) -> Iterator[UnitOfWork]:
    """One transaction for all probes, rolled back whatever happens; short lock waits."""
    uow.rollback()
    try:
        rows.probe_settings(uow.connection)
        yield uow
    finally:
        uow.rollback()


def sqlstate_of(exc: DatabaseRefused) -> str:
    return exc.sqlstate or "?"


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """What the database did with one probed statement after the probe's own rows were arranged."""

    setup_refused: DatabaseRefused | None = None  # the arrangement itself was refused
    refused: DatabaseRefused | None = None  # the probed statement was refused
    result: T | None = None  # what the probed statement returned when it went through

    @property
    def went_through(self) -> bool:
        return self.setup_refused is None and self.refused is None


def attempt_after(uow: UnitOfWork, arrange: Callable[[], A], act: Callable[[A], T]) -> Attempt[T]:
    """Arrange rows, then try ``act`` in its own savepoint; everything is rolled back afterwards."""
    try:
        with uow.savepoint(keep=False):
            arranged = arrange()
            try:
                with uow.savepoint():
                    return Attempt(result=act(arranged))
            except DatabaseRefused as exc:
                return Attempt(refused=exc)
    except DatabaseRefused as exc:
        return Attempt(setup_refused=exc)


# --- cases and verdicts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    current: Status
    target: Status
    pass_evidence: bool
    other_active: bool

    @property
    def facts(self) -> Facts:
        return Facts(has_pass_evidence=self.pass_evidence, other_active_session=self.other_active)

    @property
    def pair(self) -> str:
        return f"{self.current}->{self.target}"

    @property
    def conditions(self) -> str:
        evidence = "PASS attempt" if self.pass_evidence else "no PASS attempt (one FAIL)"
        other = "another active session" if self.other_active else "no other active session"
        return f"{evidence}, {other}"


def all_cases() -> list[Case]:
    """Every pair with and without each precondition met, except starting in VERIFIED_PASS without
    a PASS attempt: the trigger lets no session get there, so that state cannot be built."""
    return [
        Case(current, target, evidence, other)
        for current, target in ALL_PAIRS
        for evidence in (False, True)
        for other in (False, True)
        if evidence or current != Status.VERIFIED_PASS
    ]


@dataclass(frozen=True)
class Verdict:
    case: Case
    expected: str  # an Outcome of lifecycle.judge
    found: str  # an Outcome, or what else the database did
    detail: str = ""
    buildable: bool = True  # False: the start state cannot exist in this database (see detail)

    @property
    def agrees(self) -> bool:
        return not self.buildable or self.expected == self.found


def probe_lifecycle(uow: UnitOfWork, world: ProbeWorld, cases: list[Case] | None = None) -> list[Verdict]:
    """Run every case on the live trigger; call inside `probe_transaction`."""
    return [probe_case(uow, world, case) for case in (all_cases() if cases is None else cases)]


def probe_case(uow: UnitOfWork, world: ProbeWorld, case: Case) -> Verdict:
    expected = str(judge(case.current, case.target, case.facts))
    attempt = attempt_after(
        uow,
        lambda: _arrange(uow, world, case),
        lambda session_id: rows.set_status(uow.connection, session_id, case.target),
    )
    if (exc := attempt.setup_refused) is not None:
        if case.other_active and case.current in ACTIVE and exc.sqlstate == UNIQUE_VIOLATION:
            detail = "cannot exist here: the unique active-session index refuses a second active session"
            return Verdict(case, expected, "NOT_BUILDABLE", detail, buildable=False)
        return Verdict(case, expected, f"SETUP_REFUSED {sqlstate_of(exc)}", exc.detail)
    if (exc := attempt.refused) is not None:
        state = sqlstate_of(exc)
        return Verdict(case, expected, str(OUTCOME_BY_SQLSTATE.get(state, f"ERROR {state}")), exc.detail)
    if case.current == case.target:
        return Verdict(case, expected, str(Outcome.UNCHANGED))
    if completed_at_on_entry(case.target) and attempt.result.completedAt is None:
        detail = "the change went through but completedAt was not stamped"
        return Verdict(case, expected, "ALLOWED_WITHOUT_COMPLETED_AT", detail)
    return Verdict(case, expected, str(Outcome.ALLOWED))


def _arrange(uow: UnitOfWork, world: ProbeWorld, case: Case) -> str:
    session_id = rows.insert_session(uow.connection, world)
    rows.record_attempt(uow.connection, session_id, "PASS" if case.pass_evidence else "FAIL")
    for status in WALK_TO[case.current]:
        rows.set_status(uow.connection, session_id, status)
    if case.other_active:
        rows.insert_session(uow.connection, world)
    return session_id


# --- the legacy guard (before 0004_f6_lifecycle): the web app's own trigger, judged by behaviour ----


def legacy_expected(current: Status, target: Status) -> str:
    """The legacy trigger has no preconditions: its verdict is the table's, every precondition met."""
    return str(judge(current, target, Facts(has_pass_evidence=True, other_active_session=False)))


def probe_legacy_pair(uow: UnitOfWork, world: ProbeWorld, current: Status, target: Status) -> Verdict:
    case = Case(current, target, pass_evidence=True, other_active=False)
    expected = legacy_expected(current, target)

    def arrange() -> str:
        session_id = rows.insert_session(uow.connection, world)
        for status in WALK_TO[current]:
            rows.set_status_only(uow.connection, session_id, status)
        return session_id

    attempt = attempt_after(
        uow, arrange, lambda session_id: rows.set_status_only(uow.connection, session_id, target)
    )
    if (exc := attempt.setup_refused) is not None:
        return Verdict(case, expected, f"SETUP_REFUSED {sqlstate_of(exc)}", exc.detail)
    if (exc := attempt.refused) is not None:
        state = sqlstate_of(exc)
        return Verdict(
            case, expected, str(Outcome.ILLEGAL) if state == "P0001" else f"ERROR {state}", exc.detail
        )
    return Verdict(case, expected, str(Outcome.UNCHANGED if current == target else Outcome.ALLOWED))


def probe_insert(uow: UnitOfWork, world: ProbeWorld, status: Status) -> tuple[str, str]:
    """What the guard does with a new session in ``status``: ACCEPTED, or REFUSED and why."""
    attempt = attempt_after(
        uow, lambda: None, lambda _: rows.insert_session(uow.connection, world, status=status)
    )
    if (exc := attempt.refused or attempt.setup_refused) is not None:
        state = sqlstate_of(exc)
        return ("REFUSED" if state == "P0001" else f"ERROR {state}"), exc.detail
    return "ACCEPTED", ""
