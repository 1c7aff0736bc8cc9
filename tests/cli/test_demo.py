"""`forgea demo` on its own embedded PostgreSQL: runs to a passing verify-constraints, twice."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_runs_twice_and_ends_with_the_rollout_complete(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORGEA_")}
    env["FORGEA_DATA_DIR"] = str(tmp_path / "demo-data")
    command = [sys.executable, "-m", "forgea_cli", "demo"]
    try:
        first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert first.returncode == 0, first.stderr[-3000:]
        assert "built the demo database" in first.stderr
        assert "(exit 1, as expected)" in first.stderr  # the contract refused before the backfills
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert second.returncode == 0, second.stderr[-3000:]
        assert "reusing the demo database" in second.stderr
        for run in (first, second):
            gate = run.stdout[run.stdout.rfind("== migrations") : run.stdout.rfind("verify-constraints:")]
            warnings = sum(1 for line in gate.splitlines() if line.startswith("WARN "))
            assert "FAIL " not in gate
            # The demo ends with the checklist, every step done, and a last line that counts.
            assert run.stdout.rstrip().endswith("rollout complete"), run.stdout[-2000:]
            [last] = [line for line in run.stderr.splitlines() if line.startswith("demo finished:")]
            assert last.startswith("demo finished: rollout complete (10 of 10 steps); ")
            assert "; verify-constraints passed with " in last
            assert f"with {warnings} warning" in last and "; FORGEA_DATABASE_URL=postgresql" in last
    finally:
        subprocess.run([sys.executable, "-m", "forgea_cli", "db", "stop"], env=env, capture_output=True)
