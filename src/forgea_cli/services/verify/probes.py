"""Behaviour probes: make the database refuse (or do) what forgea relies on, then roll it all back.

One transaction, always rolled back; one SAVEPOINT per probe; only rows the probes create are read
or written, so a probe costs the same on an empty database and on millions of sessions. Every
statement is in `db/probe_rows.py`; this module only decides what each answer means.
"""

from __future__ import annotations

from collections.abc import Callable

from forgea_cli.db import probe_rows as rows
from forgea_cli.db.errors import DatabaseRefused
from forgea_cli.db.uow import UnitOfWork
from forgea_cli.lifecycle import ALL_PAIRS, INITIAL, Status
from forgea_cli.services.verify import lifecycle_probe as lp
from forgea_cli.services.verify.results import CheckResult, failed, judged, skipped, warned
from forgea_cli.services.verify.revisions import ACTIVE_INDEX, EXPAND, LIFECYCLE, AppliedRevisions

# A trigger that refuses raises P0001 (plain RAISE) or 42501 (the append-only guards' ERRCODE).
TRIGGER_REFUSALS = frozenset({"P0001", "42501"})
FOREIGN_KEY_VIOLATION = "23503"
VERSION_FK = "LabSession_labVersionId_labId_fkey"
ACTIVE_INDEX_NAME = "LabSession_userId_labId_active_key"
LIFECYCLE_TRIGGER = "labsession_lifecycle_guard"
_FILL_ONCE = "probes.lab_version.fill_once"
_SETUP_HINT = "another guard refused the probe's legacy-style insert; see the other failures"


def run_probes(uow: UnitOfWork, revisions: AppliedRevisions) -> list[CheckResult]:
    if rows.is_read_only(uow.connection):
        return [
            warned(
                "probes.setup",
                "database",
                "probes skipped: the database is read-only (a standby or a read-only transaction)",
                hint="run with --no-probes on replicas; run the probes against the primary",
            )
        ]
    with lp.probe_transaction(uow):
        return probe_all(uow, revisions)


def probe_all(uow: UnitOfWork, revisions: AppliedRevisions) -> list[CheckResult]:
    """Every probe; call inside `lifecycle_probe.probe_transaction`, which rolls it all back."""
    try:
        with uow.savepoint():
            world = lp.create_world(uow.connection, lab_versions=revisions.has(EXPAND))
    except DatabaseRefused as exc:
        return [
            failed(
                "probes.setup",
                "database",
                f"could not create the probe's throwaway rows: {exc.detail}",
                hint="the probes need INSERT on User, Lab and LabSession (always rolled back)",
            )
        ]
    results = _lifecycle(uow, world, revisions)
    results += _append_only(uow, world, revisions)
    results += _guard_functions(uow)
    results += _lab_version(uow, world, revisions)
    results.append(_version_of_another_lab(uow, world, revisions))
    results.append(_second_active_session(uow, world, revisions))
    results.append(_fills_current_version(uow, world, revisions))
    return results


def _setup_refused(check_id: str, obj: str, exc: DatabaseRefused) -> CheckResult:
    """A probe whose own setup the database refuses fails with that refusal; the others go on."""
    return failed(
        check_id,
        obj,
        f"probe could not set up its rows: {exc.detail}",
        expected="probe rows accepted",
        found=f"refused ({lp.sqlstate_of(exc)})",
        hint=_SETUP_HINT,
    )


# --- lifecycle ------------------------------------------------------------------------------------


def _lifecycle(uow: UnitOfWork, world: lp.ProbeWorld, revisions: AppliedRevisions) -> list[CheckResult]:
    inserts = [_insert_result(uow, world, status) for status in Status]
    if not revisions.has(LIFECYCLE):
        return [_legacy_pair_result(uow, world, pair) for pair in ALL_PAIRS] + inserts
    by_pair: dict[str, list[lp.Verdict]] = {}
    for verdict in lp.probe_lifecycle(uow, world):
        by_pair.setdefault(verdict.case.pair, []).append(verdict)
    pairs = [_pair_result(f"probes.lifecycle.{pair}", verdicts) for pair, verdicts in by_pair.items()]
    return pairs + inserts


def _legacy_pair_result(uow: UnitOfWork, world: lp.ProbeWorld, pair: tuple[Status, Status]) -> CheckResult:
    """Before forgea's own guard: the web app's trigger must give the legacy table's verdict."""
    verdict = lp.probe_legacy_pair(uow, world, *pair)
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


def _insert_result(uow: UnitOfWork, world: lp.ProbeWorld, status: Status) -> CheckResult:
    expected = "ACCEPTED" if status == INITIAL else "REFUSED"
    found, detail = lp.probe_insert(uow, world, status)
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


def _guard_functions(uow: UnitOfWork) -> list[CheckResult]:
    """Each append-only function refuses UPDATE and DELETE with its own SQLSTATE.

    On a real Forgea database AuditLog's older trigger (auditlog_immutable, P0001) fires before
    auditlog_no_update (42501), so the table alone never shows the 42501 guard: it is probed here.
    """
    results = []
    for function, state in GUARD_FUNCTIONS.items():
        for verb in ("update", "delete"):
            results.append(_guard_function_result(uow, function, state, verb))
    return results


def _guard_function_result(uow: UnitOfWork, function: str, state: str, verb: str) -> CheckResult:
    check_id = f"probes.function.{function}.{verb}"
    attempt = lp.attempt_after(
        uow,
        lambda: rows.guarded_temp_table(uow.connection, function),
        lambda _: rows.mutate_temp_table(uow.connection, verb),
    )
    if (exc := attempt.setup_refused) is not None:
        return failed(
            check_id,
            function,
            f"could not attach {function}() to a temporary table: {exc.detail}",
            expected=f"refused ({state})",
            found=f"setup refused ({lp.sqlstate_of(exc)})",
            hint="the probe needs TEMP on the database; the function may be missing",
        )
    if (exc := attempt.refused) is not None:
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


def _append_only(uow: UnitOfWork, world: lp.ProbeWorld, revisions: AppliedRevisions) -> list[CheckResult]:
    connection = uow.connection
    tables: list[tuple[str, str, Callable[[], str]]] = [
        ("AuditLog", "action", lambda: rows.insert_audit_row(connection)),
        ("VerificationLog", "ciOutput", lambda: rows.insert_verification_log(connection, world)),
        ("ResumeBullet", "bulletText", lambda: rows.insert_resume_bullet(connection, world)),
        ("VerificationAttempt", "ciOutput", lambda: rows.insert_attempt_row(connection, world)),
    ]
    results = []
    for table, column, insert in tables:
        for verb in ("update", "delete"):
            check_id = f"probes.append_only.{table}.{verb}"
            if table == "VerificationAttempt" and not revisions.has(EXPAND):
                results.append(revisions.skip(EXPAND, check_id, table))
                continue
            mutate = lambda row_id, t=table, c=column, v=verb: rows.mutate_row(connection, t, c, v, row_id)  # noqa: E731
            results.append(_expect_refusal(uow, check_id, table, insert, mutate, verb, "append-only"))
    return results


def _expect_refusal(
    uow: UnitOfWork,
    check_id: str,
    obj: str,
    insert: Callable[[], str],
    mutate: Callable[[str], int],
    verb: str,
    what: str,
) -> CheckResult:
    verb = verb.upper()
    attempt = lp.attempt_after(uow, insert, mutate)
    if (exc := attempt.setup_refused) is not None:
        return failed(check_id, obj, f"probe could not insert a row into {obj}: {exc.detail}")
    if (exc := attempt.refused) is not None:
        state = lp.sqlstate_of(exc)
        return judged(
            state in TRIGGER_REFUSALS,
            check_id,
            obj,
            f"{verb} on {obj} refused ({what}): {exc.detail}"
            if state in TRIGGER_REFUSALS
            else f"{verb} on {obj} refused, but not by its guard trigger: {state} {exc.detail}",
            expected="refused by a trigger",
            found=f"refused ({state})",
            hint=f"the {what} trigger on {obj} is missing or disabled",
        )
    return failed(
        check_id,
        obj,
        f"{verb} on {obj} went through ({attempt.result} row): the table is not {what}",
        expected="refused by a trigger",
        found=f"{verb} succeeded",
        hint=f"the {what} trigger on {obj} is missing, disabled or replaced",
    )


def _lab_version(uow: UnitOfWork, world: lp.ProbeWorld, revisions: AppliedRevisions) -> list[CheckResult]:
    checks = {"probes.lab_version.update": "update", "probes.lab_version.delete": "delete"}
    if not revisions.has(EXPAND):
        return [revisions.skip(EXPAND, check_id, "LabVersion") for check_id in [*checks, _FILL_ONCE]]
    version_id = str(world.old_version_id)
    results = [
        _expect_refusal(
            uow,
            check_id,
            "LabVersion",
            lambda: version_id,
            lambda row_id, v=verb: rows.change_lab_version(uow.connection, v, row_id),
            verb,
            "immutable",
        )
        for check_id, verb in checks.items()
    ]
    return [*results, _fill_once(uow, world)]


def _fill_once(uow: UnitOfWork, world: lp.ProbeWorld) -> CheckResult:
    """templateRepoId may be filled once (the resolve step does it) and never changed afterwards."""
    check_id, obj, version_id = _FILL_ONCE, "LabVersion", str(world.old_version_id)
    hint = "guard_lab_version_immutable is missing, disabled or replaced"
    attempt = lp.attempt_after(
        uow,
        lambda: rows.fill_template_repo_id(uow.connection, version_id, 1),
        lambda _: rows.fill_template_repo_id(uow.connection, version_id, 2),
    )
    if (exc := attempt.setup_refused) is not None:
        return failed(
            check_id,
            obj,
            f"filling LabVersion.templateRepoId was refused: {exc.detail}",
            expected="first fill allowed",
            found=f"refused ({lp.sqlstate_of(exc)})",
            hint="guard_lab_version_immutable must allow filling templateRepoId/commitSha once",
        )
    if (exc := attempt.refused) is not None:
        state = lp.sqlstate_of(exc)
        return judged(
            state in TRIGGER_REFUSALS,
            check_id,
            obj,
            "LabVersion.templateRepoId can be filled once, then never changed",
            expected="second change refused",
            found=f"refused ({state})",
            hint=hint,
        )
    return failed(
        check_id,
        obj,
        "LabVersion.templateRepoId could be changed after it was filled",
        expected="second change refused",
        found="changed",
        hint=hint,
    )


# --- foreign key, unique active session, version filling ------------------------------------------


def _version_of_another_lab(
    uow: UnitOfWork, world: lp.ProbeWorld, revisions: AppliedRevisions
) -> CheckResult:
    check_id = "probes.version_fk.other_lab"
    if (skip := revisions.needs(EXPAND, check_id, VERSION_FK)) is not None:
        return skip
    attempt = lp.attempt_after(
        uow,
        lambda: None,
        lambda _: rows.insert_session_with_version(uow.connection, world, str(world.other_lab_version_id)),
    )
    if (exc := attempt.refused or attempt.setup_refused) is not None:
        ok = exc.sqlstate == FOREIGN_KEY_VIOLATION and exc.constraint == VERSION_FK
        return judged(
            ok,
            check_id,
            VERSION_FK,
            "a session naming a version of another lab is refused"
            if ok
            else f"refused, but not by {VERSION_FK}: {exc.detail}",
            expected=f"refused by {VERSION_FK}",
            found=f"refused by {exc.constraint or lp.sqlstate_of(exc)}",
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


def _second_active_session(uow: UnitOfWork, world: lp.ProbeWorld, revisions: AppliedRevisions) -> CheckResult:
    check_id = "probes.active_session.unique"
    if not revisions.has(ACTIVE_INDEX):
        return skipped(
            check_id,
            ACTIVE_INDEX_NAME,
            f"not applicable before {ACTIVE_INDEX} (database is at {revisions.current or 'no revision'})",
        )
    attempt = lp.attempt_after(
        uow,
        lambda: rows.insert_session(uow.connection, world),
        lambda _: rows.insert_session(uow.connection, world),
    )
    if (exc := attempt.setup_refused) is not None:
        return _setup_refused(check_id, ACTIVE_INDEX_NAME, exc)
    if (exc := attempt.refused) is not None:
        ok = exc.constraint == ACTIVE_INDEX_NAME
        return judged(
            ok,
            check_id,
            ACTIVE_INDEX_NAME,
            "a second active session for one student and lab is refused"
            if ok
            else f"a second active session was refused, but not by {ACTIVE_INDEX_NAME}",
            expected=f"refused by {ACTIVE_INDEX_NAME}",
            found=f"refused: {exc.detail}",
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


def _fills_current_version(uow: UnitOfWork, world: lp.ProbeWorld, revisions: AppliedRevisions) -> CheckResult:
    check_id, obj = "probes.fill_version.current", "labsession_fill_version"
    if (skip := revisions.needs(EXPAND, check_id, obj)) is not None:
        return skip
    attempt = lp.attempt_after(
        uow,
        lambda: None,
        lambda _: rows.version_of_session(uow.connection, rows.insert_session(uow.connection, world)),
    )
    if (exc := attempt.refused or attempt.setup_refused) is not None:
        return failed(
            check_id,
            obj,
            f"a legacy insert (no labVersionId) was refused: {exc.detail}",
            expected="accepted with the lab's current version",
            found=f"refused ({lp.sqlstate_of(exc)})",
            hint="labsession_fill_version must fill labVersionId before NOT NULL is checked",
        )
    version = attempt.result
    found = (
        "the current version (v2)"
        if version == world.current_version_id
        else ("the old version (v1)" if version == world.old_version_id else str(version))
    )
    return judged(
        version == world.current_version_id,
        check_id,
        obj,
        f"an insert without labVersionId got {found}",
        expected="the current version (v2)",
        found=found,
        hint="labsession_fill_version is missing, disabled or picks the wrong version",
    )
