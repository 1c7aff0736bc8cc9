"""Helpers of the session-creation tests: seeding, counting, running the CLI in a subprocess.

The fixtures live in `session_create_fixtures` (test modules load it with `pytest_plugins`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from forgea_cli.db.engine import sqlalchemy_url
from forgea_cli.services.sessions.plan import CreateSpec, CreationConfig
from forgea_cli.testing.github_server import FakeGitHub

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ghp_F0rgeaTestT0ken_mustNeverLeak_9c7e51"
ORG = "forgea-students"
TEMPLATE = "forgea-labs/leak-hunt-template"
ACTOR = "test:operator"
PREFIX = "forgea-"


def libpq(url: str) -> str:
    return sqlalchemy_url(url).replace("postgresql+psycopg://", "postgresql://")


def sql(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


@dataclass
class Seeded:
    url: str
    lab_id: uuid.UUID
    version_id: uuid.UUID
    users: list[tuple[uuid.UUID, str]] = field(default_factory=list)

    @property
    def user_id(self) -> uuid.UUID:
        return self.users[0][0]

    @property
    def email(self) -> str:
        return self.users[0][1]

    def add_user(self, email: str) -> uuid.UUID:
        user_id = uuid.uuid4()
        sql(self.url, 'INSERT INTO "User" (id, email) VALUES (%s, %s)', (user_id, email))
        self.users.append((user_id, email))
        return user_id

    def add_active_session(self, user_id: uuid.UUID) -> uuid.UUID:
        session_id = uuid.uuid4()
        sql(
            self.url,
            'INSERT INTO "LabSession" (id, "userId", "labId", "userForkUrl") VALUES (%s, %s, %s, %s)',
            (session_id, user_id, self.lab_id, f"https://github.com/someone/{session_id.hex[:10]}"),
        )
        return session_id

    def counts(self) -> dict[str, int]:
        def count(statement: str) -> int:
            return int(sql(self.url, statement)[0][0])

        return {
            "sessions": count('SELECT count(*) FROM "LabSession"'),
            "mappings": count('SELECT count(*) FROM "GitHubRepoMapping"'),
            "lab_start": count("SELECT count(*) FROM \"AuditLog\" WHERE action = 'LAB_START'"),
            "keys": count('SELECT count(*) FROM "IdempotencyKey"'),
        }

    def key_rows(self) -> list[dict[str, Any]]:
        with psycopg.connect(libpq(self.url), autocommit=True) as conn:
            conn.row_factory = dict_row
            return list(conn.execute('SELECT * FROM "IdempotencyKey" ORDER BY "createdAt"'))

    def expire_leases(self) -> None:
        """What waiting out the 90 s lease would do (a killed run never releases its lease)."""
        sql(self.url, 'UPDATE "IdempotencyKey" SET "lockedAt" = "lockedAt" - interval \'91 seconds\'')


def seed(url: str, *, students: int = 3) -> Seeded:
    lab_id, version_id = uuid.uuid4(), uuid.uuid4()
    sql(
        url,
        'INSERT INTO "Lab" (id, title, epic, "sourceGithubIssueUrl", "repoVersion", "baseRepoUrl", '
        '"failureClass", constraints) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
        (
            lab_id,
            "Leak Hunt",
            "memory",
            "https://github.com/forgea/labs/issues/7",
            "v1",
            f"https://github.com/{TEMPLATE}",
            "RESOURCE_LEAK",
            "{}",
        ),
    )
    sql(
        url,
        'INSERT INTO "LabVersion" (id, "labId", version, "templateRepoUrl") VALUES (%s, %s, %s, %s)',
        (version_id, lab_id, "v1", f"https://github.com/{TEMPLATE}"),
    )
    seeded = Seeded(url, lab_id, version_id)
    for n in range(students):
        seeded.add_user(f"student{n}@example.edu")
    return seeded


def our_repos(fake: FakeGitHub) -> list[str]:
    return [repo.full_name for repo in fake.repos() if repo.owner == ORG]


CONFIG = CreationConfig(org=ORG, repo_prefix=PREFIX, actor=ACTOR, web_host="https://github.com")


def spec(seeded: Seeded, **changes: Any) -> CreateSpec:
    return CreateSpec(**{"user": seeded.email, "lab": str(seeded.lab_id), **changes})


def cli_env(seeded: Seeded, fake: FakeGitHub, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "FORGEA_DATABASE_URL": seeded.url,
        "FORGEA_GITHUB_API_URL": fake.url,
        "FORGEA_GITHUB_TOKEN": TOKEN,
        "FORGEA_GITHUB_ORG": ORG,
        "FORGEA_ACTOR": ACTOR,
        "FORGEA_DATA_DIR": str(tmp_path / "forgea-data"),
        **extra,
    }


def run_subprocess(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess:
    """`python -m forgea_cli ARGS` in a fresh process (no FORGEA_* leaks in from the test's own env)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("FORGEA_")}
    base["PYTHONPATH"] = str(REPO_ROOT / "src") + os.pathsep + base.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "forgea_cli", *args],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def killed(process: subprocess.CompletedProcess) -> bool:
    return process.returncode == -signal.SIGKILL
