"""`forgea demo` on its own embedded PostgreSQL: runs to a passing verify-constraints, twice."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_runs_twice_and_ends_with_a_passing_verify(tmp_path):
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
            last_screen = run.stdout[run.stdout.rfind("verify-constraints") :]
            assert "verify-constraints:" in last_screen and "passed" in last_screen
            assert "fail" not in last_screen.split("verify-constraints:")[-1]
    finally:
        subprocess.run([sys.executable, "-m", "forgea_cli", "db", "stop"], env=env, capture_output=True)
