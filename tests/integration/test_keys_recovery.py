"""`forgea keys list / resume / abandon`: the operator's side of crashed and failed creations."""

from __future__ import annotations

import json
import threading
import time

import psycopg
import pytest
from psycopg.types.json import Jsonb

from forgea_cli.services.sessions import create as session_create
from forgea_cli.services.sessions import keys
from forgea_cli.services.sessions import plan as session_plan
from forgea_cli.services.sessions.create import KeyAbandoned, LeaseLost, create_session
from tests.integration.session_create_support import (
    ACTOR,
    CONFIG,
    ORG,
    TEMPLATE,
    cli_env,
    killed,
    libpq,
    our_repos,
    run_subprocess,
    spec,
    sql,
)

pytest_plugins = ("tests.integration.session_create_fixtures",)


@pytest.fixture
def env(seeded, fake_github, tmp_path):
    return cli_env(seeded, fake_github, tmp_path, COLUMNS="250")


def crash(seeded, env, tmp_path, point: str, email: str, *extra: str) -> dict:
    """A `session create` killed right after `point`, its lease expired: a stuck key."""
    args = ["session", "create", "--user", email, "--lab", str(seeded.lab_id), *extra]
    run = run_subprocess(args, {**env, "FORGEA_FAULT_INJECT": f"after:{point}"}, tmp_path)
    assert killed(run), run.stderr
    seeded.expire_leases()
    [key] = [k for k in seeded.key_rows() if k["requestParams"]["userId"] == str(_user_id(seeded, email))]
    return key


def _user_id(seeded, email):
    return next(user_id for user_id, address in seeded.users if address == email)


def test_list_shows_every_key_and_stuck_only_those_that_need_an_operator(forgea, seeded, env, tmp_path):
    assert (
        forgea("session", "create", "--user", seeded.email, "--lab", str(seeded.lab_id), env=env).exit_code
        == 0
    )
    stuck = crash(seeded, env, tmp_path, "REPO_CREATED", seeded.users[1][1])

    listed = forgea("keys", "list", "--json", env=env)
    assert listed.exit_code == 0
    states = {k["key"]: (k["state"], k["recoveryPoint"]) for k in json.loads(listed.stdout)}
    assert states[stuck["key"]] == ("stuck", "REPO_CREATED") and ("finished", "FINISHED") in states.values()

    only_stuck = json.loads(forgea("keys", "list", "--stuck", "--json", env=env).stdout)
    assert [k["key"] for k in only_stuck] == [stuck["key"]]
    assert "keys resume" in only_stuck[0]["next"] and only_stuck[0]["repoFullName"] == stuck["repoFullName"]

    table = forgea("keys", "list", "--stuck", env=env)
    assert stuck["key"] in table.stdout and "REPO_CREATED" in table.stdout
    other_actor = forgea("keys", "list", "--json", env={**env, "FORGEA_ACTOR": "someone:else"})
    assert json.loads(other_actor.stdout) == []
    all_actors = forgea("keys", "list", "--all-actors", "--json", env={**env, "FORGEA_ACTOR": "someone:else"})
    assert len(json.loads(all_actors.stdout)) == 2


def test_resume_completes_a_key_stuck_at_repo_created_without_a_second_repository(
    forgea, seeded, fake_github, env, tmp_path
):
    stuck = crash(seeded, env, tmp_path, "REPO_CREATED", seeded.email)
    generated = fake_github.request_count("generate")

    dry = forgea("keys", "resume", stuck["key"], "--dry-run", "--json", env=env)
    assert dry.exit_code == 0 and json.loads(dry.stdout)["recoveryPoint"] == "REPO_CREATED"
    assert seeded.counts()["sessions"] == 0

    resumed = forgea("keys", "resume", stuck["key"], "--json", env=env)
    assert resumed.exit_code == 0, resumed.stderr
    document = json.loads(resumed.stdout)
    assert document["outcome"] == "created" and document["labSessionId"] == str(stuck["plannedSessionId"])
    assert fake_github.request_count("generate") == generated == 1
    assert our_repos(fake_github) == [stuck["repoFullName"]]
    assert seeded.counts() == {"sessions": 1, "mappings": 1, "lab_start": 1, "keys": 1}

    again = forgea("keys", "resume", stuck["key"], "--json", env=env)
    assert json.loads(again.stdout)["outcome"] == "replayed"


def test_resume_refuses_a_live_lease_and_an_unknown_key(forgea, seeded, env, tmp_path):
    args = ["session", "create", "--user", seeded.email, "--lab", str(seeded.lab_id)]
    run_subprocess(args, {**env, "FORGEA_FAULT_INJECT": "after:STARTED"}, tmp_path)
    [key] = seeded.key_rows()
    busy = forgea("keys", "resume", key["key"], env=env)
    assert busy.exit_code == 4 and "in progress" in busy.stderr
    missing = forgea("keys", "resume", "no-such-key", env=env)
    assert missing.exit_code == 3 and "no idempotency key" in missing.stderr


def test_abandon_deletes_the_repository_and_closes_the_key_for_good(
    forgea, seeded, fake_github, env, tmp_path
):
    stuck = crash(seeded, env, tmp_path, "REPO_CREATED", seeded.email)

    preview = forgea("keys", "abandon", stuck["key"], "--dry-run", "--json", env=env)
    assert json.loads(preview.stdout)["repo"] == stuck["repoFullName"]
    refused = forgea("keys", "abandon", stuck["key"], env=env)  # stdin is not a terminal, no --yes
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert our_repos(fake_github) == [stuck["repoFullName"]]

    done = forgea("keys", "abandon", stuck["key"], "--yes", "--json", env=env)
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["deleted"] is True and our_repos(fake_github) == []
    [key] = seeded.key_rows()
    assert (key["recoveryPoint"], key["errorCode"], key["repoFullName"]) == ("FAILED", "ABANDONED", None)

    # Abandoned is closed, not a lock on the student: the same command starts afresh under the
    # default key, the abandoned key retired (renamed, kept) and resuming it refused.
    rerun = forgea("session", "create", "--user", seeded.email, "--lab", str(seeded.lab_id), env=env)
    assert rerun.exit_code == 0, rerun.stderr
    retired, current = seeded.key_rows()
    assert retired["errorCode"] == "ABANDONED" and retired["key"].startswith(f"{stuck['key']}~retired~")
    assert current["key"] == stuck["key"] and current["recoveryPoint"] == "FINISHED"
    assert seeded.counts()["sessions"] == 1 and len(our_repos(fake_github)) == 1
    resumed = forgea("keys", "resume", retired["key"], env=env)
    assert resumed.exit_code == 4 and "retired" in resumed.stderr


def test_abandon_finds_a_repository_github_made_before_the_crash_recorded_it(
    forgea, seeded, fake_github, env, tmp_path
):
    stuck = crash(seeded, env, tmp_path, "GITHUB_CREATED", seeded.email)
    assert stuck["repoFullName"] is None and len(our_repos(fake_github)) == 1
    done = forgea("keys", "abandon", stuck["key"], "--yes", env=env)
    assert done.exit_code == 0 and "deleted" in done.stdout
    assert our_repos(fake_github) == []


def test_abandon_refuses_a_finished_key_and_never_deletes_a_bound_repository(
    forgea, seeded, fake_github, env, tmp_path
):
    assert (
        forgea("session", "create", "--user", seeded.email, "--lab", str(seeded.lab_id), env=env).exit_code
        == 0
    )
    [finished] = seeded.key_rows()
    refused = forgea("keys", "abandon", finished["key"], "--yes", env=env)
    assert refused.exit_code == 4 and "transition the session" in refused.stderr

    fork = fake_github.add_repo("student-one/leak-hunt")
    fork_url = f"https://github.com/{fork.full_name}"
    bound = crash(seeded, env, tmp_path, "REPO_CREATED", seeded.users[1][1], "--fork-url", fork_url)
    done = forgea("keys", "abandon", bound["key"], "--yes", "--json", env=env)
    assert done.exit_code == 0 and json.loads(done.stdout)["deleted"] is False
    assert fake_github.get(fork.full_name) is not None
    [(count,)] = sql(seeded.url, 'SELECT count(*) FROM "IdempotencyKey" WHERE "errorCode" = \'ABANDONED\'')
    assert count == 1


# -- races and leases, on real concurrent connections ------------------------------------------------


def _wait_for_a_lock_waiter(url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [(waiting,)] = sql(
            url,
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError("no connection ever waited on the key's row lock")


def test_a_creation_racing_an_abandon_never_reopens_the_abandoned_key(seeded, fake_github, make_gateway, uow):
    """The creation read the key before the abandon committed and takes it over after: the
    abandonment must be judged by the take-over's own UPDATE, not by the stale row read before."""
    plan = session_plan.plan_session(uow, CONFIG, spec(seeded))
    row, _lease = session_create.start(uow, CONFIG, plan)  # a run that died at STARTED
    seeded.expire_leases()
    outcome: dict = {}

    def create() -> None:
        try:
            outcome["result"] = create_session(uow, make_gateway(), CONFIG, spec(seeded))
        except Exception as exc:
            outcome["error"] = exc

    with psycopg.connect(libpq(seeded.url)) as abandon:  # `keys abandon`, in its own transaction
        abandon.execute('SELECT 1 FROM "IdempotencyKey" WHERE id = %s FOR UPDATE', (row.id,))
        creation = threading.Thread(target=create)
        creation.start()
        _wait_for_a_lock_waiter(seeded.url)  # the creation has read the key and waits to lease it
        abandon.execute(
            """UPDATE "IdempotencyKey" SET "recoveryPoint" = 'FAILED', "errorCode" = 'ABANDONED',
                      "lockedAt" = NULL, "lastRunAt" = LOCALTIMESTAMP(3), result = %s WHERE id = %s""",
            (Jsonb({"error": {"code": "ABANDONED", "message": "abandoned by test"}}), row.id),
        )
        abandon.commit()
        creation.join(30)

    assert isinstance(outcome.get("error"), KeyAbandoned), outcome
    [key] = seeded.key_rows()
    assert (key["recoveryPoint"], key["errorCode"], key["lockedAt"]) == ("FAILED", "ABANDONED", None)
    assert seeded.counts()["sessions"] == 0 and our_repos(fake_github) == []


class TakenOverWhileDeleting:
    """Delegates to a real gateway; another run takes the key over while GitHub deletes the repo
    (this run stalled past its lease)."""

    def __init__(self, inner, seeded, uow, row) -> None:
        self.inner, self.seeded, self.uow, self.row = inner, seeded, uow, row

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def delete_repo(self, full_name: str) -> bool:
        self.seeded.expire_leases()
        assert not isinstance(
            session_create.take_over(self.uow, CONFIG, self.row), session_create.CreateOutcome
        )
        return self.inner.delete_repo(full_name)


def test_an_abandon_whose_lease_was_taken_over_says_so_and_leaves_the_key_to_the_other_run(
    seeded, fake_github, make_gateway, uow
):
    plan = session_plan.plan_session(uow, CONFIG, spec(seeded))
    row, _lease = session_create.start(uow, CONFIG, plan)
    gateway = make_gateway()
    gateway.create_from_template(TEMPLATE, ORG, plan.repo_name(CONFIG, row.planned_session_id))
    seeded.expire_leases()

    with pytest.raises(LeaseLost, match="taken over by another run"):
        keys.abandon_key(uow, TakenOverWhileDeleting(gateway, seeded, uow, row), CONFIG, row.key)
    [key] = seeded.key_rows()
    assert (key["recoveryPoint"], key["errorCode"]) == ("STARTED", None)  # not abandoned: the other run's
    assert key["lockedAt"] is not None


def test_one_stuck_predicate_for_keys_list_key_views_and_verify(forgea, seeded, uow):
    """`keys list --stuck`, the state a KeyView shows and verify's stuck-keys figure agree on keys in
    every state (the SQL predicate and its Python twin)."""
    insert = """INSERT INTO "IdempotencyKey" (id, "actorId", key, "requestHash", "requestParams",
                    "recoveryPoint", "plannedSessionId", "errorCode", "lockedAt", "lastRunAt")
                VALUES (gen_random_uuid(), %s, %s, 'h', '{}', %s, gen_random_uuid(), %s,
                        LOCALTIMESTAMP - make_interval(secs => %s),
                        LOCALTIMESTAMP - make_interval(secs => %s))"""
    cases = {  # key: (recovery point, error code, lockedAt age (None: released), lastRunAt age, stuck)
        "crashed-started": ("STARTED", None, 300, 300, True),
        "crashed-created": ("REPO_CREATED", None, 91, 91, True),
        "released-just-now": ("STARTED", None, None, 1, True),
        "running": ("REPO_CREATED", None, 10, 10, False),
        "finished": ("FINISHED", None, None, 3000, False),
        "failed": ("FAILED", "GITHUB_NOT_FOUND", None, 3000, False),
        "cleanup": ("FAILED", "REPO_CLEANUP_PENDING", None, 3000, False),
    }
    for name, (point, code, locked_age, run_age, _stuck) in cases.items():
        sql(seeded.url, insert, (ACTOR, name, point, code, locked_age, run_age))
    stuck = {name for name, case in cases.items() if case[-1]}

    views = {view.row.key: view for view in keys.list_keys(uow, CONFIG)}
    assert {name for name, view in views.items() if view.stuck} == stuck
    assert {name for name, view in views.items() if view.state == "stuck"} == stuck
    listed = {view.row.key for view in keys.list_keys(uow, CONFIG, stuck_only=True)}
    assert listed == stuck | {"cleanup"}  # what needs an operator: stuck, or a repository to delete
    verify = forgea("verify-constraints", "--only", "data", "--json", url=seeded.url)
    [check] = [c for c in json.loads(verify.stdout)["checks"] if c["id"] == "data.idempotency.stuck_keys"]
    assert sorted(check["found"]["examples"]) == sorted(str(views[name].row.id) for name in stuck)
