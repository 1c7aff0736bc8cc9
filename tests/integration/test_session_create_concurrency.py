"""Many callers, one key: one repository and one session; the others replay it or hear "in progress"."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

from forgea_cli.errors import InProgress
from forgea_cli.services.sessions.create import create_session
from tests.integration.session_create_support import CONFIG, cli_env, our_repos, run_subprocess, spec

pytest_plugins = ("tests.integration.session_create_fixtures",)

CALLERS = 20


def test_twenty_concurrent_callers_with_the_same_key(seeded, fake_github, make_gateway, uow_for):
    fake_github.latency_seconds = 0.05  # keeps the winner inside GitHub while the others arrive
    factories = [uow_for(seeded.url) for _ in range(CALLERS)]  # separate pools: real concurrent connections
    gateways = [make_gateway() for _ in range(CALLERS)]
    start = threading.Barrier(CALLERS)

    def call(n: int):
        start.wait()
        try:
            return create_session(factories[n], gateways[n], CONFIG, spec(seeded))
        except InProgress as exc:
            return exc

    with ThreadPoolExecutor(CALLERS) as pool:
        answers = list(pool.map(call, range(CALLERS)))

    outcomes = [a for a in answers if not isinstance(a, InProgress)]
    busy = [a for a in answers if isinstance(a, InProgress)]
    assert len(outcomes) + len(busy) == CALLERS
    assert [o.outcome for o in outcomes].count("created") == 1
    assert len({o.result["labSessionId"] for o in outcomes}) == 1
    assert all("in progress" in str(b) for b in busy)
    assert len(our_repos(fake_github)) == 1 and fake_github.request_count("generate") == 1
    assert seeded.counts() == {"sessions": 1, "mappings": 1, "lab_start": 1, "keys": 1}


def test_concurrent_processes_get_the_same_session_or_exit_4(seeded, fake_github, tmp_path):
    fake_github.latency_seconds = 0.05
    env = cli_env(seeded, fake_github, tmp_path)
    args = ["session", "create", "--user", seeded.email, "--lab", str(seeded.lab_id), "--json"]
    with ThreadPoolExecutor(6) as pool:
        runs = list(pool.map(lambda _n: run_subprocess(args, env, tmp_path), range(6)))

    assert {r.returncode for r in runs} <= {0, 4}, [r.stderr for r in runs]
    sessions = {json.loads(r.stdout)["labSessionId"] for r in runs if r.returncode == 0}
    assert len(sessions) == 1
    assert all("in progress" in r.stderr for r in runs if r.returncode == 4)
    assert len(our_repos(fake_github)) == 1
    assert seeded.counts() == {"sessions": 1, "mappings": 1, "lab_start": 1, "keys": 1}
