"""`forgea db start / status / url / stop` on an embedded PostgreSQL of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _forgea(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "forgea_cli", *args], env=env, capture_output=True, text=True
    )


def test_embedded_database_lifecycle(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORGEA_")}
    env["FORGEA_DATA_DIR"] = str(tmp_path / "data")
    try:
        before = json.loads(_forgea(env, "db", "status", "--json").stdout)
        assert before["running"] is False
        started = _forgea(env, "db", "start")
        assert started.returncode == 0, started.stderr
        status = json.loads(_forgea(env, "db", "status", "--json").stdout)
        assert status["running"] is True and status["pid"]
        url = _forgea(env, "db", "url").stdout.strip()
        assert url.startswith("postgresql+psycopg://postgres@/forgea?host=")
        migrated = _forgea(env, "migrate", "upgrade")  # no FORGEA_DATABASE_URL: the embedded database
        assert migrated.returncode == 0, migrated.stderr
        assert _forgea(env, "migrate", "status", "--check").returncode == 0
    finally:
        stopped = _forgea(env, "db", "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert json.loads(_forgea(env, "db", "status", "--json").stdout)["running"] is False
