"""A typo must not lock a student out: a key that failed having created nothing, or that was
abandoned, is superseded by a new request for the same student and lab version (the old key is
retired — renamed, kept — and the new request takes its name, atomically)."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from forgea_cli.db import idempotency_keys as keys_db
from forgea_cli.errors import IdempotencyMismatch, InProgress
from forgea_cli.services.sessions import create as session_create
from forgea_cli.services.sessions import plan as session_plan
from forgea_cli.services.sessions.create import ForkNotFound, create_session
from forgea_cli.services.sessions.idempotency import CreateRequest, supersedes
from tests.integration.session_create_support import (
    CONFIG,
    cli_env,
    our_repos,
    spec,
    sql,
)

pytest_plugins = ("tests.integration.session_create_fixtures",)

WRONG = "https://github.com/student-gh/leak-hnut"  # the typo: no such repository
RIGHT = "https://github.com/student-gh/leak-hunt"


@pytest.fixture
def run(forgea, seeded, fake_github, tmp_path):
    env = cli_env(seeded, fake_github, tmp_path, COLUMNS="250")

    def invoke(*args: str):
        return forgea(*args, env=env)

    return invoke


def _default_key(seeded) -> str:
    return f"create:{seeded.user_id}:{seeded.version_id}"


def test_a_corrected_fork_url_creates_the_session_after_a_typo(run, seeded, fake_github):
    fake_github.add_repo("student-gh/leak-hunt")
    lab = str(seeded.lab_id)
    typo = run("session", "create", "--user", seeded.email, "--lab", lab, "--fork-url", WRONG)
    assert typo.exit_code == 5, typo.stderr

    fixed = run("session", "create", "--user", seeded.email, "--lab", lab, "--fork-url", RIGHT, "--json")
    assert fixed.exit_code == 0, fixed.stderr
    document = json.loads(fixed.stdout)
    assert document["outcome"] == "created" and document["repoFullName"] == "student-gh/leak-hunt"
    assert document["idempotencyKey"] == _default_key(seeded)

    old, new = seeded.key_rows()
    assert old["key"] == f"{_default_key(seeded)}~retired~{old['id']}"  # kept for the record, renamed
    assert old["errorCode"] == "FORK_NOT_FOUND" and old["result"]["retired"]["key"] == _default_key(seeded)
    assert old["result"]["retired"]["by"] == "test:operator"
    assert (new["key"], new["recoveryPoint"]) == (_default_key(seeded), "FINISHED")
    assert seeded.counts() == {"sessions": 1, "mappings": 1, "lab_start": 1, "keys": 2}

    listed = {k["key"]: k for k in json.loads(run("keys", "list", "--json").stdout)}
    assert listed[old["key"]]["state"] == "retired" and "newer request" in listed[old["key"]]["next"]
    assert listed[_default_key(seeded)]["state"] == "finished"
    again = run("session", "create", "--user", seeded.email, "--lab", lab, "--fork-url", RIGHT, "--json")
    assert json.loads(again.stdout)["outcome"] == "replayed"  # the new key is an ordinary key


def test_after_keys_abandon_the_same_command_starts_afresh(run, seeded, fake_github):
    fake_github.reset()  # the template is not visible: the creation fails for good (exit 5)
    lab = str(seeded.lab_id)
    failed = run("session", "create", "--user", seeded.email, "--lab", lab)
    assert failed.exit_code == 5, failed.stderr
    abandoned = run("keys", "abandon", _default_key(seeded), "--yes")
    assert abandoned.exit_code == 0, abandoned.stderr

    fake_github.add_repo("forgea-labs/leak-hunt-template", is_template=True)
    again = run("session", "create", "--user", seeded.email, "--lab", lab, "--json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["outcome"] == "created" and len(our_repos(fake_github)) == 1
    retired, current = seeded.key_rows()
    assert retired["errorCode"] == "ABANDONED" and retired["plannedSessionId"] != current["plannedSessionId"]


def test_abandon_then_a_corrected_fork_url(run, seeded, fake_github):
    fake_github.add_repo("student-gh/leak-hunt")
    lab = str(seeded.lab_id)
    assert run("session", "create", "--user", seeded.email, "--lab", lab, "--fork-url", WRONG).exit_code == 5
    assert run("keys", "abandon", _default_key(seeded), "--yes").exit_code == 0
    fixed = run("session", "create", "--user", seeded.email, "--lab", lab, "--fork-url", RIGHT)
    assert fixed.exit_code == 0, fixed.stderr
    assert seeded.counts()["sessions"] == 1


def test_a_corrected_roster_creates_the_row_that_had_a_typo(run, seeded, fake_github, tmp_path):
    fake_github.add_repo("student-gh/leak-hunt")
    lab = str(seeded.lab_id)
    first = tmp_path / "week1.csv"
    first.write_text(f"email,fork_url\n{seeded.email},{WRONG}\n{seeded.users[1][1]},\n")
    report = run("session", "create", "--roster", str(first), "--lab", lab, "--json")
    assert report.exit_code == 1
    assert [r["status"] for r in json.loads(report.stdout)["rows"]] == ["failed", "created"]

    fixed = tmp_path / "week1-fixed.csv"
    fixed.write_text(f"email,fork_url\n{seeded.email},{RIGHT}\n{seeded.users[1][1]},\n")
    preview = run("session", "create", "--roster", str(fixed), "--lab", lab, "--dry-run", "--json")
    assert [r["status"] for r in json.loads(preview.stdout)["rows"]] == ["would-create", "would-replay"]
    assert "retire the closed key" in json.loads(preview.stdout)["rows"][0]["reason"]
    rerun = run("session", "create", "--roster", str(fixed), "--lab", lab, "--json")
    assert rerun.exit_code == 0, rerun.stdout
    assert [r["status"] for r in json.loads(rerun.stdout)["rows"]] == ["created", "replayed"]


def test_the_single_dry_run_says_the_failed_key_would_be_retired(run, seeded, fake_github):
    fake_github.add_repo("student-gh/leak-hunt")
    lab = str(seeded.lab_id)
    run("session", "create", "--user", seeded.email, "--lab", lab, "--fork-url", WRONG)
    dry = run(
        "session", "create", "--user", seeded.email, "--lab", lab, "--fork-url", RIGHT, "--dry-run", "--json"
    )
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(dry.stdout)["wouldDo"].startswith("retire the closed key (failed with FORK_NOT_FOUND")


def test_a_failed_key_still_holding_a_repository_is_not_superseded(uow, seeded, fake_github, make_gateway):
    """Something was created and not cleaned up: only `keys abandon` may let the name go."""
    with pytest.raises(ForkNotFound):
        create_session(uow, make_gateway(), CONFIG, spec(seeded, fork_url=WRONG))
    [row] = seeded.key_rows()
    sql(
        seeded.url,
        """UPDATE "IdempotencyKey" SET "errorCode" = 'REPO_CLEANUP_PENDING', "repoFullName" = 'o/r',
           "providerRepoId" = 7 WHERE id = %s""",
        (row["id"],),
    )
    fake_github.add_repo("student-gh/leak-hunt")
    with pytest.raises(IdempotencyMismatch, match="still holds o/r") as refused:
        create_session(uow, make_gateway(), CONFIG, spec(seeded, fork_url=RIGHT))
    assert "keys abandon" in (refused.value.hint or "")
    assert seeded.counts()["keys"] == 1


def test_another_student_never_supersedes_an_explicit_key(uow, seeded, fake_github, make_gateway):
    with pytest.raises(ForkNotFound):
        create_session(uow, make_gateway(), CONFIG, spec(seeded, fork_url=WRONG, idempotency_key="k-1"))
    with pytest.raises(IdempotencyMismatch, match="another student"):
        create_session(
            uow, make_gateway(), CONFIG, spec(seeded, user=seeded.users[1][1], idempotency_key="k-1")
        )
    assert seeded.counts()["keys"] == 1


def test_supersedes_only_closed_keys_of_the_same_student_and_version():
    user, lab, version = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    asked = CreateRequest(user, lab, version, RIGHT)

    def row(point="FAILED", code="FORK_NOT_FOUND", fork=WRONG, repo=None, result=None, who=user):
        stored = CreateRequest(who, lab, version, fork)
        return keys_db.KeyRow(
            uuid.uuid4(), "a", "k", stored.request_hash(), stored.params(), point, uuid.uuid4(),
            None, repo, None, result, code, None, None, None,
        )  # fmt: skip

    assert supersedes(row(), asked)
    assert not supersedes(row(fork=RIGHT), asked)  # the same request: retried in place
    assert supersedes(row(fork=RIGHT, code="ABANDONED"), asked)  # abandoned: always let go
    assert supersedes(
        row(code="REPO_CLEANUP_PENDING", repo=9, result={"error": {"code": "ABANDONED"}}), asked
    )
    assert not supersedes(row(repo=9), asked)  # holds a repository
    assert not supersedes(row(code="REPO_CLEANUP_PENDING"), asked)
    assert not supersedes(row(point="STARTED", code=None), asked)
    assert not supersedes(row(point="FINISHED", code=None), asked)
    assert not supersedes(row(who=uuid.uuid4()), asked)
    assert not supersedes(row(result={"retired": {"key": "k"}}), asked)


def test_two_corrected_requests_racing_retire_the_key_once(seeded, fake_github, make_gateway, uow_for):
    """Real connections: the first run retires the failed key and inserts its own, holding its
    transaction open; the second waits on the row lock, then finds the name taken by the first."""
    first_uow, second_uow = uow_for(seeded.url), uow_for(seeded.url)
    with pytest.raises(ForkNotFound):
        create_session(first_uow, make_gateway(), CONFIG, spec(seeded, fork_url=WRONG))
    fake_github.add_repo("student-gh/leak-hunt")
    fake_github.add_repo("student-gh/leak-hunt-2")
    first_plan = session_plan.plan_session(first_uow, CONFIG, spec(seeded, fork_url=RIGHT))
    second_plan = session_plan.plan_session(second_uow, CONFIG, spec(seeded, fork_url=RIGHT + "-2"))
    answers: dict[str, object] = {}

    def second() -> None:
        try:
            answers["second"] = session_create.start(second_uow, CONFIG, second_plan)
        except Exception as exc:
            answers["second"] = exc

    with first_uow() as work:
        row, created = session_create.claim_key(work, CONFIG, first_plan)
        assert created
        racer = threading.Thread(target=second)
        racer.start()
        _wait_for_a_lock_waiter(seeded.url)
        work.commit()
    racer.join(30)

    assert isinstance(answers["second"], IdempotencyMismatch), answers
    keys = seeded.key_rows()
    assert len(keys) == 2 and [k["key"] for k in keys].count(first_plan.key) == 1
    assert sum(1 for k in keys if "retired" in (k["result"] or {})) == 1
    current = next(k for k in keys if k["key"] == first_plan.key)
    assert current["requestParams"]["forkUrl"] == RIGHT and current["id"] == row.id


def test_a_same_request_racing_a_retirement_hears_in_progress(seeded, fake_github, make_gateway, uow_for):
    first_uow, second_uow = uow_for(seeded.url), uow_for(seeded.url)
    with pytest.raises(ForkNotFound):
        create_session(first_uow, make_gateway(), CONFIG, spec(seeded, fork_url=WRONG))
    plan = session_plan.plan_session(first_uow, CONFIG, spec(seeded, fork_url=RIGHT))
    answers: dict[str, object] = {}

    def second() -> None:
        try:
            answers["second"] = session_create.start(second_uow, CONFIG, plan)
        except Exception as exc:
            answers["second"] = exc

    with first_uow() as work:
        session_create.claim_key(work, CONFIG, plan)
        racer = threading.Thread(target=second)
        racer.start()
        _wait_for_a_lock_waiter(seeded.url)
        work.commit()
    racer.join(30)
    assert isinstance(answers["second"], InProgress) and "in progress" in str(answers["second"])
    assert len(seeded.key_rows()) == 2


def _wait_for_a_lock_waiter(url: str, timeout: float = 10.0) -> None:
    from tests.integration.test_keys_recovery import _wait_for_a_lock_waiter as wait

    wait(url, timeout)
