"""Every revision's SQL, as `forgea migrate upgrade --dry-run` renders it, passes squawk.

A rule may be waived only by a SQUAWK_WAIVERS entry, with its reason, in the revision's own file.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from forgea_cli.db import migrations

SQUAWK = shutil.which("squawk") or str(Path(sys.executable).parent / "squawk")
VERSIONS = migrations.migrations_dir() / "versions"


def _waivers(revision: str) -> dict[str, str]:
    path = VERSIONS / f"{revision}.py"
    spec = importlib.util.spec_from_file_location(f"migration_{revision}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, "SQUAWK_WAIVERS", {})


def _revision_pairs() -> list[tuple[str | None, str]]:
    order = [r.revision for r in migrations.history()]
    return list(zip([None, *order[:-1]], order, strict=True))


@pytest.mark.skipif(not Path(SQUAWK).exists(), reason="squawk (PyPI squawk-cli) is not installed")
@pytest.mark.parametrize(("previous", "revision"), _revision_pairs(), ids=lambda r: r or "base")
def test_revision_sql_passes_squawk(previous, revision, tmp_path):
    sql = migrations.render_sql(previous, revision)
    assert f"Running upgrade {previous or ''} -> {revision}".replace("  ", " ") in sql.replace("  ", " ")
    assert "SET lock_timeout" in sql and "SET statement_timeout" in sql
    path = tmp_path / f"{revision}.sql"
    path.write_text(sql)
    waivers = _waivers(revision)
    assert all(reason.strip() for reason in waivers.values()), "every waiver needs its reason"
    command = [SQUAWK, "--pg-version", "15", "--reporter", "gcc", str(path)]
    if waivers:
        command += ["--exclude", ",".join(sorted(waivers))]
    completed = subprocess.run(command, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr
