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

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from forgea_cli.lifecycle import ACTIVE, ALL_PAIRS, Facts, Outcome, Status, completed_at_on_entry, judge

# What the trigger of 0004_f6_lifecycle raises, by SQLSTATE.
OUTCOME_BY_SQLSTATE = {
    "P0001": Outcome.ILLEGAL,
    "FG002": Outcome.NEEDS_PASS_EVIDENCE,
    "FG003": Outcome.OTHER_ACTIVE_SESSION,
}
UNIQUE_VIOLATION = "23505"
PROBE_MARK = "forgea-verify-probe"
# Legal walks from an insert (IN_PROGRESS) to each start state.
WALK_TO = {
    Status.IN_PROGRESS: (),
    Status.STUCK: (Status.STUCK,),
    Status.DEFERRED: (Status.DEFERRED,),
    Status.VERIFIED_PASS: (Status.VERIFIED_PASS,),
}


@contextmanager
def probe_transaction(connection: Connection) -> Iterator[Connection]:
    """One transaction for all probes, rolled back whatever happens; short lock waits."""
    if connection.in_transaction():
        connection.rollback()
    transaction = connection.begin()
    try:
        connection.execute(text("SET LOCAL lock_timeout = '2s'"))
        connection.execute(text("SET LOCAL statement_timeout = '30s'"))
        yield connection
    finally:
        transaction.rollback()


@contextmanager
def savepoint(connection: Connection) -> Iterator[None]:
    """Everything inside is undone when the block ends, refused statements included."""
    nested = connection.begin_nested()
    try:
        yield
    finally:
        nested.rollback()


def sqlstate_of(exc: DBAPIError) -> str:
    return str(getattr(exc.orig, "sqlstate", None) or "?")


def constraint_of(exc: DBAPIError) -> str | None:
    """The constraint (or unique index) PostgreSQL names in the error, if any."""
    return getattr(getattr(exc.orig, "diag", None), "constraint_name", None)


def first_line(exc: DBAPIError) -> str:
    lines = str(exc.orig).strip().splitlines()
    return lines[0] if lines else type(exc.orig).__name__


# --- the throwaway rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeWorld:
    """A student and a lab (current version ``v2``, older ``v1``) plus a second lab, all new."""

    user_id: str
    lab_id: str
    other_lab_id: str
    current_version_id: str | None = None
    old_version_id: str | None = None
    other_lab_version_id: str | None = None


def create_world(connection: Connection, *, lab_versions: bool = True) -> ProbeWorld:
    """Insert the probe's rows; ``lab_versions`` once the LabVersion table exists (0002)."""
    user_id, lab_id, other_lab_id = insert_user(connection), str(uuid.uuid4()), str(uuid.uuid4())
    for lab in (lab_id, other_lab_id):
        connection.execute(
            text(
                'INSERT INTO "Lab" (id, title, epic, "sourceGithubIssueUrl", "repoVersion", "baseRepoUrl", '
                "\"failureClass\", constraints) VALUES (:id, :title, :title, :url, 'v2', :url, "
                "(enum_range(NULL::\"FailureClass\"))[1], '{}'::jsonb)"
            ),
            {"id": lab, "title": PROBE_MARK, "url": f"https://github.com/{PROBE_MARK}/{lab}"},
        )
    if not lab_versions:
        return ProbeWorld(user_id, lab_id, other_lab_id)
    return ProbeWorld(
        user_id,
        lab_id,
        other_lab_id,
        current_version_id=insert_lab_version(connection, lab_id, "v2"),
        old_version_id=insert_lab_version(connection, lab_id, "v1"),
        other_lab_version_id=insert_lab_version(connection, other_lab_id, "v2"),
    )


def insert_user(connection: Connection) -> str:
    user_id = str(uuid.uuid4())
    connection.execute(
        text('INSERT INTO "User" (id, email) VALUES (:id, :email)'),
        {"id": user_id, "email": f"{PROBE_MARK}-{user_id}@invalid"},
    )
    return user_id


def insert_lab_version(connection: Connection, lab_id: str, version: str) -> str:
    version_id = str(uuid.uuid4())
    connection.execute(
        text(
            'INSERT INTO "LabVersion" (id, "labId", version, "templateRepoUrl") '
            "VALUES (:id, :lab, :version, :url)"
        ),
        {"id": version_id, "lab": lab_id, "version": version, "url": f"https://github.com/{PROBE_MARK}/t"},
    )
    return version_id


def insert_session(
    connection: Connection, world: ProbeWorld, *, user_id: str | None = None, status: Status | None = None
) -> str:
    """A session as the web app inserts it: id, userId, labId, userForkUrl only (and a status, to probe)."""
    session_id = str(uuid.uuid4())
    columns, values = ('id, "userId", "labId", "userForkUrl"', ":id, :user, :lab, :url")
    if status is not None:
        columns, values = f"{columns}, status", f'{values}, CAST(:status AS "LabStatus")'
    connection.execute(
        text(f'INSERT INTO "LabSession" ({columns}) VALUES ({values})'),
        {
            "id": session_id,
            "user": user_id or world.user_id,
            "lab": world.lab_id,
            "url": f"https://github.com/{PROBE_MARK}/{session_id}",
            "status": str(status) if status is not None else None,
        },
    )
    return session_id


def record_attempt(connection: Connection, session_id: str, result: str) -> None:
    connection.execute(
        text(
            'INSERT INTO "VerificationAttempt" ("labSessionId", "attemptNumber", "commitSha", result, '
            '"ciOutput") VALUES (:session, next_verification_attempt_number(:session), :sha, '
            'CAST(:result AS "VerificationResult"), :mark)'
        ),
        {"session": session_id, "sha": "0" * 40, "result": result, "mark": PROBE_MARK},
    )


def set_status(connection: Connection, session_id: str, status: Status):
    return connection.execute(
        text(
            'UPDATE "LabSession" SET status = CAST(:status AS "LabStatus") WHERE id = :id '
            'RETURNING "completedAt"'
        ),
        {"status": str(status), "id": session_id},
    ).one()


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


def probe_lifecycle(
    connection: Connection, world: ProbeWorld, cases: list[Case] | None = None
) -> list[Verdict]:
    """Run every case on the live trigger; call inside `probe_transaction`."""
    return [probe_case(connection, world, case) for case in (all_cases() if cases is None else cases)]


def probe_case(connection: Connection, world: ProbeWorld, case: Case) -> Verdict:
    expected = str(judge(case.current, case.target, case.facts))
    with savepoint(connection):
        try:
            session_id = _arrange(connection, world, case)
        except DBAPIError as exc:
            if case.other_active and case.current in ACTIVE and sqlstate_of(exc) == UNIQUE_VIOLATION:
                detail = "cannot exist here: the unique active-session index refuses a second active session"
                return Verdict(case, expected, "NOT_BUILDABLE", detail, buildable=False)
            return Verdict(case, expected, f"SETUP_REFUSED {sqlstate_of(exc)}", first_line(exc))
        found, detail = _attempt(connection, session_id, case)
    return Verdict(case, expected, found, detail)


def _arrange(connection: Connection, world: ProbeWorld, case: Case) -> str:
    session_id = insert_session(connection, world)
    record_attempt(connection, session_id, "PASS" if case.pass_evidence else "FAIL")
    for status in WALK_TO[case.current]:
        set_status(connection, session_id, status)
    if case.other_active:
        insert_session(connection, world)
    return session_id


# --- the legacy guard (before 0004_f6_lifecycle): the web app's own trigger, judged by behaviour ----


def legacy_expected(current: Status, target: Status) -> str:
    """The legacy trigger has no preconditions: its verdict is the table's, every precondition met."""
    return str(judge(current, target, Facts(has_pass_evidence=True, other_active_session=False)))


def probe_legacy_pair(connection: Connection, world: ProbeWorld, current: Status, target: Status) -> Verdict:
    case = Case(current, target, pass_evidence=True, other_active=False)
    expected = legacy_expected(current, target)
    with savepoint(connection):
        try:
            session_id = insert_session(connection, world)
            for status in WALK_TO[current]:
                _set_status_only(connection, session_id, status)
        except DBAPIError as exc:
            return Verdict(case, expected, f"SETUP_REFUSED {sqlstate_of(exc)}", first_line(exc))
        try:
            with savepoint(connection):
                _set_status_only(connection, session_id, target)
        except DBAPIError as exc:
            state = sqlstate_of(exc)
            found = str(Outcome.ILLEGAL) if state == "P0001" else f"ERROR {state}"
            return Verdict(case, expected, found, first_line(exc))
    return Verdict(case, expected, str(Outcome.UNCHANGED if current == target else Outcome.ALLOWED))


def probe_insert(connection: Connection, world: ProbeWorld, status: Status) -> tuple[str, str]:
    """What the guard does with a new session in ``status``: ACCEPTED, or REFUSED and why."""
    with savepoint(connection):
        try:
            with savepoint(connection):
                insert_session(connection, world, status=status)
        except DBAPIError as exc:
            state = sqlstate_of(exc)
            return ("REFUSED" if state == "P0001" else f"ERROR {state}"), first_line(exc)
    return "ACCEPTED", ""


def guarded_temp_table(connection: Connection, function: str) -> None:
    """A one-row temporary table guarded by ``function`` (dropped with the probe's savepoint)."""
    connection.execute(text("CREATE TEMPORARY TABLE forgea_probe_guard (id integer)"))
    connection.execute(text("INSERT INTO forgea_probe_guard VALUES (1)"))
    connection.execute(
        text(
            "CREATE TRIGGER forgea_probe_guard BEFORE UPDATE OR DELETE ON forgea_probe_guard "
            f"FOR EACH ROW EXECUTE FUNCTION public.{function}()"
        )
    )


def mutate_temp_table(connection: Connection, verb: str) -> None:
    sql = "UPDATE forgea_probe_guard SET id = 2" if verb == "update" else "DELETE FROM forgea_probe_guard"
    connection.execute(text(sql))


def _set_status_only(connection: Connection, session_id: str, status: Status) -> None:
    connection.execute(
        text('UPDATE "LabSession" SET status = CAST(:status AS "LabStatus") WHERE id = :id'),
        {"status": str(status), "id": session_id},
    )


def _attempt(connection: Connection, session_id: str, case: Case) -> tuple[str, str]:
    try:
        with savepoint(connection):
            row = set_status(connection, session_id, case.target)
    except DBAPIError as exc:
        state = sqlstate_of(exc)
        return str(OUTCOME_BY_SQLSTATE.get(state, f"ERROR {state}")), first_line(exc)
    if case.current == case.target:
        return str(Outcome.UNCHANGED), ""
    if completed_at_on_entry(case.target) and row.completedAt is None:
        return "ALLOWED_WITHOUT_COMPLETED_AT", "the change went through but completedAt was not stamped"
    return str(Outcome.ALLOWED), ""
