"""Behaviour probes: make the database refuse (or do) what forgea relies on, then roll it all back.

One transaction, always rolled back; one SAVEPOINT per probe; only rows the probes create are read
or written, so a probe costs the same on an empty database and on millions of sessions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from forgea_cli.lifecycle import ALL_PAIRS, INITIAL, Status
from forgea_cli.services import lifecycle_probe as lp
from forgea_cli.services.verify_results import CheckResult, failed, judged, skipped, warned
from forgea_cli.services.verify_revisions import ACTIVE_INDEX, EXPAND, LIFECYCLE, AppliedRevisions

# A trigger that refuses raises P0001 (plain RAISE) or 42501 (the append-only guards' ERRCODE).
TRIGGER_REFUSALS = frozenset({"P0001", "42501"})
FOREIGN_KEY_VIOLATION = "23503"
VERSION_FK = "LabSession_labVersionId_labId_fkey"
ACTIVE_INDEX_NAME = "LabSession_userId_labId_active_key"
LIFECYCLE_TRIGGER = "labsession_lifecycle_guard"
_FILL_ONCE = "probes.lab_version.fill_once"


def run_probes(connection: Connection, revisions: AppliedRevisions) -> list[CheckResult]:
    if _read_only(connection):
        return [
            warned(
                "probes.setup",
                "database",
                "probes skipped: the database is read-only (a standby or a read-only transaction)",
                hint="run with --no-probes on replicas; run the probes against the primary",
            )
        ]
    with lp.probe_transaction(connection):
        return probe_all(connection, revisions)


def probe_all(connection: Connection, revisions: AppliedRevisions) -> list[CheckResult]:
    """Every probe; call inside `lifecycle_probe.probe_transaction`, which rolls it all back."""
    try:
        world = lp.create_world(connection, lab_versions=revisions.has(EXPAND))
    except DBAPIError as exc:
        return [
            failed(
                "probes.setup",
                "database",
                f"could not create the probe's throwaway rows: {lp.first_line(exc)}",
                hint="the probes need INSERT on User, Lab and LabSession (always rolled back)",
            )
        ]
    results = _lifecycle(connection, world, revisions)
    results += _append_only(connection, world, revisions)
    results += _guard_functions(connection)
    results += _lab_version(connection, world, revisions)
    for check_id, obj, probe in (
        ("probes.version_fk.other_lab", VERSION_FK, _version_of_another_lab),
        ("probes.active_session.unique", ACTIVE_INDEX_NAME, _second_active_session),
        ("probes.fill_version.current", "labsession_fill_version", _fills_current_version),
    ):
        results.append(_guarded(connection, check_id, obj, lambda p=probe: p(connection, world, revisions)))
    return results


def _guarded(
    connection: Connection, check_id: str, obj: str, probe: Callable[[], CheckResult]
) -> CheckResult:
    """A probe whose own setup the database refuses fails with that refusal; the others go on."""
    try:
        with lp.savepoint(connection):
            return probe()
    except DBAPIError as exc:
        return failed(
            check_id,
            obj,
            f"probe could not set up its rows: {lp.first_line(exc)}",
            expected="probe rows accepted",
            found=f"refused ({lp.sqlstate_of(exc)})",
            hint="another guard refused the probe's legacy-style insert; see the other failures",
        )


def _read_only(connection: Connection) -> bool:
    return bool(
        connection.execute(
            text("SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'")
        ).scalar()
    )


# --- lifecycle ------------------------------------------------------------------------------------


def _lifecycle(
    connection: Connection, world: lp.ProbeWorld, revisions: AppliedRevisions
) -> list[CheckResult]:
    inserts = [_insert_result(connection, world, status) for status in Status]
    if not revisions.has(LIFECYCLE):
        return [_legacy_pair_result(connection, world, pair) for pair in ALL_PAIRS] + inserts
    by_pair: dict[str, list[lp.Verdict]] = {}
    for verdict in lp.probe_lifecycle(connection, world):
        by_pair.setdefault(verdict.case.pair, []).append(verdict)
    pairs = [_pair_result(f"probes.lifecycle.{pair}", verdicts) for pair, verdicts in by_pair.items()]
    return pairs + inserts


def _legacy_pair_result(
    connection: Connection, world: lp.ProbeWorld, pair: tuple[Status, Status]
) -> CheckResult:
    """Before forgea's own guard: the web app's trigger must give the legacy table's verdict."""
    verdict = lp.probe_legacy_pair(connection, world, *pair)
    check_id = f"probes.lifecycle.{verdict.case.pair}"
    detail = f" ({verdict.detail})" if verdict.detail and not verdict.agrees else ""
    return judged(
        verdict.agrees,
        check_id,
        LIFECYCLE_TRIGGER,
        f"{verdict.case.pair}: the legacy guard gives the legacy verdict ({verdict.found})"
        if verdict.agrees
        else f"trigger {LIFECYCLE_TRIGGER} disagrees with the legacy lifecycle on {verdict.case.pair}: "
        f"expected {verdict.expected}, found {verdict.found}{detail}",
        expected=verdict.expected,
        found=verdict.found + detail,
        hint="the web app's enforce_lab_session_status_transition behaves differently from the baseline: "
        "forgea cannot adopt or upgrade it until it gives the legacy verdicts",
    )


def _insert_result(connection: Connection, world: lp.ProbeWorld, status: Status) -> CheckResult:
    expected = "ACCEPTED" if status == INITIAL else "REFUSED"
    found, detail = lp.probe_insert(connection, world, status)
    return judged(
        found == expected,
        f"probes.lifecycle.insert.{status}",
        LIFECYCLE_TRIGGER,
        f"a new session in {status} is {found.lower()}"
        if found == expected
        else f"a new session in {status} was {found.lower()}, expected {expected.lower()}"
        + (f": {detail}" if detail else ""),
        expected=expected,
        found=found,
        hint=f"{LIFECYCLE_TRIGGER} must accept only {INITIAL} on insert",
    )


# --- the guard functions on their own (a throwaway temporary table) -------------------------------

GUARD_FUNCTIONS = {"prevent_destructive_action": "P0001", "prevent_auditlog_mutations": "42501"}


def _guard_functions(connection: Connection) -> list[CheckResult]:
    """Each append-only function refuses UPDATE and DELETE with its own SQLSTATE.

    On a real Forgea database AuditLog's older trigger (auditlog_immutable, P0001) fires before
    auditlog_no_update (42501), so the table alone never shows the 42501 guard: it is probed here.
    """
    results = []
    for function, state in GUARD_FUNCTIONS.items():
        for verb in ("update", "delete"):
            results.append(_guard_function_result(connection, function, state, verb))
    return results


def _guard_function_result(connection: Connection, function: str, state: str, verb: str) -> CheckResult:
    check_id = f"probes.function.{function}.{verb}"
    with lp.savepoint(connection):
        try:
            lp.guarded_temp_table(connection, function)
        except DBAPIError as exc:
            return failed(
                check_id,
                function,
                f"could not attach {function}() to a temporary table: {lp.first_line(exc)}",
                expected=f"refused ({state})",
                found=f"setup refused ({lp.sqlstate_of(exc)})",
                hint="the probe needs TEMP on the database; the function may be missing",
            )
        try:
            with lp.savepoint(connection):
                lp.mutate_temp_table(connection, verb)
        except DBAPIError as exc:
            found = lp.sqlstate_of(exc)
            return judged(
                found == state,
                check_id,
                function,
                f"{function}() refuses {verb.upper()} with SQLSTATE {found}",
                expected=f"refused ({state})",
                found=f"refused ({found})",
                hint=f"{function}() must raise SQLSTATE {state}",
            )
    return failed(
        check_id,
        function,
        f"{function}() let an {verb.upper()} through",
        expected=f"refused ({state})",
        found="allowed",
        hint=f"{function}() no longer raises: restore it from the web app's migration",
    )


def _pair_result(check_id: str, verdicts: list[lp.Verdict]) -> CheckResult:
    built = [v for v in verdicts if v.buildable]
    wrong = [v for v in built if not v.agrees]
    pair = verdicts[0].case.pair
    expected = {v.case.conditions: v.expected for v in built}
    found = {
        v.case.conditions: v.found + (f" ({v.detail})" if v.detail and not v.agrees else "") for v in built
    }
    if not wrong:
        outcomes = ", ".join(sorted(set(expected.values())))
        return judged(
            True,
            check_id,
            LIFECYCLE_TRIGGER,
            f"{pair}: trigger agrees with lifecycle.py ({outcomes})",
            expected=expected,
            found=found,
        )
    first = wrong[0]
    return failed(
        check_id,
        LIFECYCLE_TRIGGER,
        f"trigger {LIFECYCLE_TRIGGER} disagrees with lifecycle.py on {pair} with {first.case.conditions}: "
        f"expected {first.expected}, found {first.found}",
        expected=expected,
        found=found,
        hint="the trigger function enforce_lab_session_status_transition no longer matches the lifecycle "
        "module: restore it from its migration, or freeze the new table in a new revision",
    )


# --- append-only tables and LabVersion ------------------------------------------------------------


def _append_only(
    connection: Connection, world: lp.ProbeWorld, revisions: AppliedRevisions
) -> list[CheckResult]:
    tables: list[tuple[str, str, Callable[[], str]]] = [
        ("AuditLog", "action", lambda: _insert_audit_row(connection)),
        ("VerificationLog", "ciOutput", lambda: _insert_verification_log(connection, world)),
        ("ResumeBullet", "bulletText", lambda: _insert_resume_bullet(connection, world)),
        ("VerificationAttempt", "ciOutput", lambda: _insert_attempt(connection, world)),
    ]
    results = []
    for table, column, insert in tables:
        for statement in ("update", "delete"):
            check_id = f"probes.append_only.{table}.{statement}"
            if table == "VerificationAttempt" and not revisions.has(EXPAND):
                results.append(revisions.skip(EXPAND, check_id, table))
                continue
            sql = _mutation(table, column, statement)
            results.append(_expect_refusal(connection, check_id, table, insert, sql, "append-only"))
    return results


def _mutation(table: str, column: str, statement: str) -> str:
    if statement == "update":
        return f'UPDATE "{table}" SET "{column}" = "{column}" WHERE id = :id'
    return f'DELETE FROM "{table}" WHERE id = :id'


def _expect_refusal(
    connection: Connection, check_id: str, obj: str, insert: Callable[[], str], sql: str, what: str
) -> CheckResult:
    verb = sql.split()[0]
    with lp.savepoint(connection):
        try:
            row_id = insert()
        except DBAPIError as exc:
            return failed(check_id, obj, f"probe could not insert a row into {obj}: {lp.first_line(exc)}")
        try:
            with lp.savepoint(connection):
                changed = connection.execute(text(sql), {"id": row_id}).rowcount
        except DBAPIError as exc:
            state = lp.sqlstate_of(exc)
            return judged(
                state in TRIGGER_REFUSALS,
                check_id,
                obj,
                f"{verb} on {obj} refused ({what}): {lp.first_line(exc)}"
                if state in TRIGGER_REFUSALS
                else f"{verb} on {obj} refused, but not by its guard trigger: {state} {lp.first_line(exc)}",
                expected="refused by a trigger",
                found=f"refused ({state})",
                hint=f"the {what} trigger on {obj} is missing or disabled",
            )
    return failed(
        check_id,
        obj,
        f"{verb} on {obj} went through ({changed} row): the table is not {what}",
        expected="refused by a trigger",
        found=f"{verb} succeeded",
        hint=f"the {what} trigger on {obj} is missing, disabled or replaced",
    )


def _insert_audit_row(connection: Connection) -> str:
    row_id = str(uuid.uuid4())
    connection.execute(
        text('INSERT INTO "AuditLog" (id, "actorId", action) VALUES (:id, :actor, \'ADMIN_OVERRIDE\')'),
        {"id": row_id, "actor": lp.PROBE_MARK},
    )
    return row_id


def _insert_verification_log(connection: Connection, world: lp.ProbeWorld) -> str:
    row_id = str(uuid.uuid4())
    connection.execute(
        text(
            'INSERT INTO "VerificationLog" (id, "sessionId", "commitSha", "prDiff", "ciOutput") '
            "VALUES (:id, :session, :sha, '', :mark)"
        ),
        {
            "id": row_id,
            "session": lp.insert_session(connection, world),
            "sha": "0" * 40,
            "mark": lp.PROBE_MARK,
        },
    )
    return row_id


def _insert_resume_bullet(connection: Connection, world: lp.ProbeWorld) -> str:
    row_id = str(uuid.uuid4())
    connection.execute(
        text('INSERT INTO "ResumeBullet" (id, "sessionId", "bulletText") VALUES (:id, :session, :mark)'),
        {"id": row_id, "session": lp.insert_session(connection, world), "mark": lp.PROBE_MARK},
    )
    return row_id


def _insert_attempt(connection: Connection, world: lp.ProbeWorld) -> str:
    session_id = lp.insert_session(connection, world)
    lp.record_attempt(connection, session_id, "FAIL")
    return str(
        connection.execute(
            text('SELECT id FROM "VerificationAttempt" WHERE "labSessionId" = :s'), {"s": session_id}
        ).scalar_one()
    )


def _lab_version(
    connection: Connection, world: lp.ProbeWorld, revisions: AppliedRevisions
) -> list[CheckResult]:
    checks = {
        "probes.lab_version.update": """UPDATE "LabVersion" SET version = version || '-x' WHERE id = :id""",
        "probes.lab_version.delete": 'DELETE FROM "LabVersion" WHERE id = :id',
    }
    if not revisions.has(EXPAND):
        return [revisions.skip(EXPAND, check_id, "LabVersion") for check_id in [*checks, _FILL_ONCE]]
    results = [
        _expect_refusal(
            connection, check_id, "LabVersion", lambda: str(world.old_version_id), sql, "immutable"
        )
        for check_id, sql in checks.items()
    ]
    fill_once = _guarded(connection, _FILL_ONCE, "LabVersion", lambda: _fill_once(connection, world))
    return [*results, fill_once]


def _fill_once(connection: Connection, world: lp.ProbeWorld) -> CheckResult:
    """templateRepoId may be filled once (the resolve step does it) and never changed afterwards."""
    fill = text('UPDATE "LabVersion" SET "templateRepoId" = :repo WHERE id = :id')
    check_id, obj = _FILL_ONCE, "LabVersion"
    with lp.savepoint(connection):
        try:
            connection.execute(fill, {"repo": 1, "id": world.old_version_id})
        except DBAPIError as exc:
            return failed(
                check_id,
                obj,
                f"filling LabVersion.templateRepoId was refused: {lp.first_line(exc)}",
                expected="first fill allowed",
                found=f"refused ({lp.sqlstate_of(exc)})",
                hint="guard_lab_version_immutable must allow filling templateRepoId/commitSha once",
            )
        try:
            with lp.savepoint(connection):
                connection.execute(fill, {"repo": 2, "id": world.old_version_id})
        except DBAPIError as exc:
            state = lp.sqlstate_of(exc)
            return judged(
                state in TRIGGER_REFUSALS,
                check_id,
                obj,
                "LabVersion.templateRepoId can be filled once, then never changed",
                expected="second change refused",
                found=f"refused ({state})",
                hint="guard_lab_version_immutable is missing, disabled or replaced",
            )
    return failed(
        check_id,
        obj,
        "LabVersion.templateRepoId could be changed after it was filled",
        expected="second change refused",
        found="changed",
        hint="guard_lab_version_immutable is missing, disabled or replaced",
    )


# --- foreign key, unique active session, version filling ------------------------------------------


def _version_of_another_lab(
    connection: Connection, world: lp.ProbeWorld, revisions: AppliedRevisions
) -> CheckResult:
    check_id = "probes.version_fk.other_lab"
    if (skip := revisions.needs(EXPAND, check_id, VERSION_FK)) is not None:
        return skip
    insert = text(
        'INSERT INTO "LabSession" (id, "userId", "labId", "labVersionId", "userForkUrl") '
        "VALUES (:id, :user, :lab, :version, :url)"
    )
    params = {
        "id": str(uuid.uuid4()),
        "user": world.user_id,
        "lab": world.lab_id,
        "version": world.other_lab_version_id,
        "url": f"https://github.com/{lp.PROBE_MARK}/fk",
    }
    with lp.savepoint(connection):
        try:
            connection.execute(insert, params)
        except DBAPIError as exc:
            constraint = lp.constraint_of(exc)
            ok = lp.sqlstate_of(exc) == FOREIGN_KEY_VIOLATION and constraint == VERSION_FK
            return judged(
                ok,
                check_id,
                VERSION_FK,
                "a session naming a version of another lab is refused"
                if ok
                else f"refused, but not by {VERSION_FK}: {lp.first_line(exc)}",
                expected=f"refused by {VERSION_FK}",
                found=f"refused by {constraint or lp.sqlstate_of(exc)}",
                hint=f"{VERSION_FK} must reference LabVersion(id, labId)",
            )
    return failed(
        check_id,
        VERSION_FK,
        "a session was accepted with a version of another lab",
        expected=f"refused by {VERSION_FK}",
        found="accepted",
        hint=f"{VERSION_FK} is missing or does not cover (labVersionId, labId)",
    )


def _second_active_session(
    connection: Connection, world: lp.ProbeWorld, revisions: AppliedRevisions
) -> CheckResult:
    check_id = "probes.active_session.unique"
    if not revisions.has(ACTIVE_INDEX):
        return skipped(
            check_id,
            ACTIVE_INDEX_NAME,
            f"not applicable before {ACTIVE_INDEX} (database is at {revisions.current or 'no revision'})",
        )
    with lp.savepoint(connection):
        lp.insert_session(connection, world)
        try:
            with lp.savepoint(connection):
                lp.insert_session(connection, world)
        except DBAPIError as exc:
            ok = lp.constraint_of(exc) == ACTIVE_INDEX_NAME
            return judged(
                ok,
                check_id,
                ACTIVE_INDEX_NAME,
                "a second active session for one student and lab is refused"
                if ok
                else f"a second active session was refused, but not by {ACTIVE_INDEX_NAME}",
                expected=f"refused by {ACTIVE_INDEX_NAME}",
                found=f"refused: {lp.first_line(exc)}",
                hint=f"rebuild {ACTIVE_INDEX_NAME} (migration {ACTIVE_INDEX})",
            )
    return failed(
        check_id,
        ACTIVE_INDEX_NAME,
        "a second active session for one student and lab was accepted",
        expected=f"refused by {ACTIVE_INDEX_NAME}",
        found="accepted",
        hint=f"the unique partial index {ACTIVE_INDEX_NAME} is missing, invalid or has another predicate",
    )


def _fills_current_version(
    connection: Connection, world: lp.ProbeWorld, revisions: AppliedRevisions
) -> CheckResult:
    check_id, obj = "probes.fill_version.current", "labsession_fill_version"
    if (skip := revisions.needs(EXPAND, check_id, obj)) is not None:
        return skip
    with lp.savepoint(connection):
        try:
            session_id = lp.insert_session(connection, world)
        except DBAPIError as exc:
            return failed(
                check_id,
                obj,
                f"a legacy insert (no labVersionId) was refused: {lp.first_line(exc)}",
                expected="accepted with the lab's current version",
                found=f"refused ({lp.sqlstate_of(exc)})",
                hint="labsession_fill_version must fill labVersionId before NOT NULL is checked",
            )
        version = connection.execute(
            text('SELECT "labVersionId" FROM "LabSession" WHERE id = :id'), {"id": session_id}
        ).scalar()
    found = (
        "the current version (v2)"
        if str(version) == world.current_version_id
        else ("the old version (v1)" if str(version) == world.old_version_id else str(version))
    )
    return judged(
        str(version) == world.current_version_id,
        check_id,
        obj,
        f"an insert without labVersionId got {found}",
        expected="the current version (v2)",
        found=found,
        hint="labsession_fill_version is missing, disabled or picks the wrong version",
    )
