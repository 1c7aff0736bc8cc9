"""Helpers of the interop tests: the forgea CLI in-process, SQL on a test database, the runbook."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from tests.real_forgea import libpq_url


def sql(url: str, query: str, params: Any = None) -> list[dict[str, Any]]:
    from psycopg.rows import dict_row

    with psycopg.connect(libpq_url(url), autocommit=True, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


@dataclass
class Step:
    args: tuple[str, ...]
    exit_code: int
    stdout: str
    output: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def describe(self) -> str:
        return f"`forgea {' '.join(self.args)}` exited {self.exit_code}:\n{self.output[-6000:]}"


@dataclass
class ForgeaCli:
    """The CLI in-process (Typer's CliRunner), as tests/conftest.py's `forgea` fixture runs it."""

    data_dir: Path
    steps: list[Step] = field(default_factory=list)

    def __call__(self, *args: str, url: str) -> Step:
        from typer.testing import CliRunner

        from forgea_cli.cli.app import app

        env = {
            "FORGEA_DATABASE_URL": url,
            "FORGEA_DATA_DIR": str(self.data_dir),
            "FORGEA_ACTOR": "test:interop",
            "NO_COLOR": "1",
        }
        result = CliRunner().invoke(app, list(args), env=env)
        output = result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            output += f"\n{type(result.exception).__name__}: {result.exception}"
        step = Step(tuple(args), result.exit_code, result.stdout, output)
        self.steps.append(step)
        return step


# The runbook (docs/runbook.md §1-2), step by step; each must exit 0.
RUNBOOK = (
    ("migrate", "adopt", "--dry-run"),
    ("migrate", "adopt", "--json"),
    ("migrate", "adopt", "--json"),
    ("migrate", "upgrade", "0005_f6_session_indexes"),
    ("verify-constraints", "--only", "catalog", "--only", "probes", "--json"),
    ("backfill", "all", "--dry-run", "--json"),
    ("backfill", "all", "--json"),
    ("backfill", "resolve-duplicates", "--dry-run", "--json"),
    ("backfill", "resolve-duplicates", "--json"),
    ("migrate", "upgrade", "head"),
    ("migrate", "status", "--check", "--json"),
    ("verify-constraints", "--json"),
)
