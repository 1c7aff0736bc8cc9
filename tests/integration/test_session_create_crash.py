"""Crash safety: `python -m forgea_cli session create` SIGKILLed at each recovery point, then rerun.

The kill point is deterministic: FORGEA_FAULT_INJECT=after:<POINT> makes the process kill itself
right after that step (forgea_cli.services.sessions.faults).
"""

from __future__ import annotations

import json

import pytest

from tests.integration.session_create_support import (
    cli_env,
    killed,
    our_repos,
    run_subprocess,
    sql,
)

pytest_plugins = ("tests.integration.session_create_fixtures",)

# point -> (repositories on GitHub after the kill, recovery point left in the key)
AFTER_KILL = {
    "STARTED": (0, "STARTED"),
    "GITHUB_CREATED": (1, "STARTED"),
    "REPO_CREATED": (1, "REPO_CREATED"),
    "FINISHED": (1, "FINISHED"),
}


@pytest.mark.parametrize("point", list(AFTER_KILL))
def test_killed_at_a_recovery_point_then_rerun_leaves_exactly_one_of_everything(
    point, seeded, fake_github, tmp_path
):
    env = cli_env(seeded, fake_github, tmp_path)
    args = ["session", "create", "--user", seeded.email, "--lab", str(seeded.lab_id), "--json"]

    crashed = run_subprocess(args, {**env, "FORGEA_FAULT_INJECT": f"after:{point}"}, tmp_path)
    assert killed(crashed), (crashed.returncode, crashed.stderr)
    assert crashed.stdout == ""
    repos, recovery_point = AFTER_KILL[point]
    assert len(our_repos(fake_github)) == repos
    [key] = seeded.key_rows()
    assert key["recoveryPoint"] == recovery_point

    if point != "FINISHED":  # a killed run never releases its lease: a rerun must wait it out
        blocked = run_subprocess(args, env, tmp_path)
        assert blocked.returncode == 4 and "in progress" in blocked.stderr
        seeded.expire_leases()

    rerun = run_subprocess(args, env, tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    document = json.loads(rerun.stdout)
    assert document["outcome"] == ("replayed" if point == "FINISHED" else "created")
    assert document["labSessionId"] == str(key["plannedSessionId"])
    assert our_repos(fake_github) == [document["repoFullName"]]
    assert seeded.counts() == {"sessions": 1, "mappings": 1, "lab_start": 1, "keys": 1}
    [(session_id, fork_url)] = sql(seeded.url, 'SELECT id, "userForkUrl" FROM "LabSession"')
    assert (str(session_id), fork_url) == (document["labSessionId"], document["htmlUrl"])
    assert fake_github.request_count("delete") == 0
