"""Every `--json` document, pinned: each command with --json runs against a real database in a known
state, its document is normalised (ids, timestamps, ports, paths, timings) and compared with a
checked-in snapshot under tests/cli/snapshots/. Refresh them after an intended change with

    FORGEA_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/cli/test_json_snapshots.py

and read the diff before committing. Each document also keeps the contract: camelCase keys
(forgea_cli.documents.key_violations), timestamps with their offset, one document on stdout.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer

from forgea_cli.cli.app import app
from forgea_cli.documents import key_violations
from forgea_cli.testing.github_server import FakeGitHub
from tests.conftest import load_prisma_replica
from tests.integration.rollout_support import load_legacy
from tests.integration.session_create_support import ORG, TEMPLATE, TOKEN, cli_env, seed

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("FORGEA_UPDATE_SNAPSHOTS", "").lower() in {"1", "true", "yes"}

UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
AWARE_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)")
OTHER_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?")
SHORT_ID = re.compile(r"(forgea-[a-z0-9-]*?-)[0-9a-f]{8}\b")
# Measured, not decided: how long things took, where the embedded server lives, its process.
VOLATILE = {"seconds", "sleptSeconds", "batchSize", "batchTime", "pid", "pgdata", "socketDir", "lagSeconds"}


class Snapshots:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = str(tmp_path)
        self.problems: list[str] = []
        self.checked: set[str] = set()  # command paths with a pinned document

    def check(self, name: str, result, *, exit_code: int = 0) -> dict[str, Any] | list[Any]:
        self.checked.add(_command_path(result))
        assert result.exit_code == exit_code, (
            f"{name}: exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
        )
        document = json.loads(result.stdout)  # exactly one document, nothing else on stdout
        if exit_code and not (isinstance(document, dict) and "error" in document):
            assert isinstance(document, dict | list), name  # a verdict document (verify, canonicalize)
        violations = key_violations(document)
        if violations:
            self.problems.append(f"{name}: snake_case keys {violations[:5]}")
        for stamp in OTHER_TIMESTAMP.finditer(result.stdout):
            if not AWARE_TIMESTAMP.match(result.stdout, stamp.start()):
                self.problems.append(f"{name}: a timestamp without its offset: {stamp.group()!r}")
                break
        normalised = json.dumps(self.normalise(document), indent=2, sort_keys=False) + "\n"
        path = SNAPSHOTS / f"{name}.json"
        if UPDATE:
            SNAPSHOTS.mkdir(exist_ok=True)
            path.write_text(normalised, encoding="utf-8")
        elif not path.exists():
            self.problems.append(f"{name}: no snapshot {path.name} (FORGEA_UPDATE_SNAPSHOTS=1 writes it)")
        elif path.read_text(encoding="utf-8") != normalised:
            import difflib

            diff = difflib.unified_diff(
                path.read_text(encoding="utf-8").splitlines(),
                normalised.splitlines(),
                "snapshot",
                "now",
                lineterm="",
            )
            self.problems.append(f"{name}: the document changed\n" + "\n".join(list(diff)[:40]))
        return document

    def normalise(self, document: Any) -> Any:
        ids: dict[str, str] = {}

        def text(value: str) -> str:
            value = UUID.sub(lambda m: ids.setdefault(m.group(), f"<uuid:{len(ids) + 1}>"), value)
            value = AWARE_TIMESTAMP.sub("<timestamp>", value)
            value = OTHER_TIMESTAMP.sub("<timestamp>", value)
            value = re.sub(r"http://127\.0\.0\.1:\d+", "<fake-github>", value)
            value = SHORT_ID.sub(r"\1<short>", value)
            return value.replace(self.tmp_path, "<tmp>")

        def walk(value: Any, key: str | None = None) -> Any:
            if key in VOLATILE and value is not None:
                return "<measured>"
            if isinstance(value, dict):
                return {k: walk(v, k) for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v) for v in value]
            return text(value) if isinstance(value, str) else value

        return walk(document)

    def assert_clean(self) -> None:
        assert not self.problems, "\n\n".join(self.problems)


def _command_path(result) -> str:
    words = []
    command = typer.main.get_command(app)
    context = command.make_context("forgea", [], resilient_parsing=True)
    for word in getattr(result, "args", []):
        child = command.get_command(context, word) if hasattr(command, "get_command") else None
        if child is None:
            break
        words.append(word)
        context = child.make_context(word, [], parent=context, resilient_parsing=True)
        command = child
    return " ".join(words)


def json_commands() -> set[str]:
    """Every command of the CLI that takes --json (or --format json)."""
    found = set()
    root = typer.main.get_command(app)

    def walk(command, path: list[str], parent) -> None:
        context = command.make_context(
            path[-1] if path else "forgea", [], parent=parent, resilient_parsing=True
        )
        if hasattr(command, "list_commands"):
            for name in command.list_commands(context):
                child = command.get_command(context, name)
                if child is not None and not child.hidden:
                    walk(child, [*path, name], context)
            return
        if any("--json" in getattr(p, "opts", []) for p in command.get_params(context)):
            found.add(" ".join(path))

    walk(root, [], None)
    return found


@pytest.fixture
def run(forgea):
    """The forgea fixture, remembering the arguments each result came from."""

    def invoke(*args: str, **kwargs):
        result = forgea(*args, **kwargs)
        result.args = list(args)
        try:
            result.json = json.loads(result.stdout)
        except ValueError:
            result.json = None
        return result

    return invoke


COVERED: set[str] = set()


def test_rollout_documents(run, empty_db, tmp_path):
    """A Prisma-built database with legacy data, adopted, expanded, backfilled, contracted."""
    snap = Snapshots(tmp_path)
    url = empty_db
    load_prisma_replica(url)
    load_legacy(url, 60)
    env = {"FORGEA_DATA_DIR": str(tmp_path / "data")}
    with FakeGitHub(token=TOKEN) as fake:
        github = {"FORGEA_GITHUB_API_URL": fake.url, "FORGEA_GITHUB_TOKEN": TOKEN, "FORGEA_GITHUB_ORG": ORG}

        snap.check("migrate-status-not-adopted", run("migrate", "status", "--json", url=url))
        snap.check("backfill-before-adopt-error", run("backfill", "all", "--json", url=url), exit_code=1)
        snap.check("migrate-adopt-dry-run", run("migrate", "adopt", "--dry-run", "--json", url=url))
        snap.check("migrate-adopt", run("migrate", "adopt", "--json", url=url))
        snap.check(
            "migrate-adopt-refresh-dry-run",
            run("migrate", "adopt", "--refresh", "--dry-run", "--json", url=url),
        )
        assert run("migrate", "upgrade", "0005_f6_session_indexes", url=url).exit_code == 0
        snap.check(
            "backfill-all-dry-run-show", run("backfill", "all", "--dry-run", "--show", "2", "--json", url=url)
        )
        snap.check("backfill-lab-versions", run("backfill", "lab-versions", "--json", url=url))
        snap.check("backfill-completed-at", run("backfill", "completed-at", "--json", url=url))
        snap.check(
            "backfill-verification-attempts", run("backfill", "verification-attempts", "--json", url=url)
        )
        snap.check(
            "backfill-repo-mappings-dry-run", run("backfill", "repo-mappings", "--dry-run", "--json", url=url)
        )
        snap.check("mapping-backfill", run("mapping", "backfill", "--json", url=url))
        snap.check(
            "backfill-resolve-duplicates-dry-run",
            run("backfill", "resolve-duplicates", "--dry-run", "--json", url=url),
        )
        snap.check("backfill-resolve-duplicates", run("backfill", "resolve-duplicates", "--json", url=url))
        snap.check("backfill-all-nothing-to-do", run("backfill", "all", "--json", url=url))
        assert run("migrate", "upgrade", url=url).exit_code == 0
        snap.check("migrate-status", run("migrate", "status", "--json", url=url))
        snap.check("migrate-history", run("migrate", "history", "--json"))
        snap.check("verify-constraints", run("verify-constraints", "--json", url=url), exit_code=0)
        snap.check(
            "mapping-canonicalize",
            run("mapping", "canonicalize", "https://GitHub.com/Ada/Leaky.git", "nope", "--json"),
            exit_code=2,
        )
        snap.check(
            "mapping-lookup-none-error",
            run("mapping", "lookup", "--repo-id", "424242", "--json", url=url),
            exit_code=3,
        )
        snap.check(
            "mapping-resolve-ids-dry-run",
            run("mapping", "resolve-ids", "--dry-run", "--limit", "5", "--json", url=url, env=github),
        )
        listed = snap.check("session-list", run("session", "list", "--limit", "5", "--json", url=url))
        session = listed[0]["id"]
        shown = snap.check("session-show", run("session", "show", session, "--json", url=url))
        mapped = shown["mapping"]["canonicalUrl"]
        snap.check("mapping-lookup", run("mapping", "lookup", "--url", mapped + ".git", "--json", url=url))
        snap.check(
            "session-transition-dry-run",
            run("session", "transition", session, "--to", "DEFERRED", "--dry-run", "--json", url=url),
        )
        snap.check(
            "session-transition",
            run(
                "session",
                "transition",
                session,
                "--to",
                "DEFERRED",
                "--reason",
                "snapshot",
                "--json",
                url=url,
            ),
        )
        snap.check(
            "session-transition-illegal-error",
            run("session", "transition", session, "--to", "STUCK", "--json", url=url),
            exit_code=4,
        )
        snap.check(
            "session-show-bad-id-error", run("session", "show", "not-a-uuid", "--json", url=url), exit_code=2
        )
        snap.check("schema-prisma", run("schema", "prisma", "--json", url=url))
        snap.check("lifecycle-show", run("lifecycle", "show", "--json"))
        snap.check("db-status", run("db", "status", "--json", env=env))
        snap.check("lab-list", run("lab", "list", "--json", url=url))
        snap.check("rollout-status", run("rollout", "status", "--json", url=url), exit_code=1)
        snap.check("webhook-deliveries-empty", run("webhook", "deliveries", "--json", url=url))
    COVERED.update(snap.checked)
    snap.assert_clean()


def test_session_creation_documents(run, migrated_db, tmp_path):
    """Seeded students and a lab, the fake GitHub: creation, keys, reconciliation, webhooks."""
    snap = Snapshots(tmp_path)
    seeded = seed(migrated_db)
    with FakeGitHub(token=TOKEN) as fake:
        fake.add_repo(TEMPLATE, is_template=True)
        env = cli_env(seeded, fake, tmp_path)
        lab = str(seeded.lab_id)

        snap.check(
            "session-create-dry-run",
            run("session", "create", "--user", seeded.email, "--lab", lab, "--dry-run", "--json", env=env),
        )
        created = snap.check(
            "session-create",
            run("session", "create", "--user", seeded.email, "--lab", lab, "--json", env=env),
        )
        snap.check(
            "session-create-replayed",
            run("session", "create", "--user", seeded.email, "--lab", lab, "--json", env=env),
        )
        roster = tmp_path / "roster.csv"
        roster.write_text(
            "email\n" + "\n".join(email for _id, email in seeded.users[1:]) + "\n", encoding="utf-8"
        )
        roster_create = ("session", "create", "--roster", str(roster), "--lab", lab, "--workers", "1")
        snap.check("session-create-roster-dry-run", run(*roster_create, "--dry-run", "--json", env=env))
        snap.check("session-create-roster", run(*roster_create, "--json", env=env))
        keys = snap.check("keys-list", run("keys", "list", "--json", env=env))
        key = created["idempotencyKey"]
        assert key in {k["key"] for k in keys}
        snap.check("keys-resume-dry-run", run("keys", "resume", key, "--dry-run", "--json", env=env))
        snap.check("keys-resume-replayed", run("keys", "resume", key, "--json", env=env))
        snap.check(
            "keys-abandon-finished-error",
            run("keys", "abandon", key, "--dry-run", "--json", env=env),
            exit_code=4,
        )
        seeded.add_user("late@example.edu")
        missing_fork = ["--fork-url", "https://github.com/nobody/missing-repo"]
        failed = run(
            "session", "create", "--user", "late@example.edu", "--lab", lab, *missing_fork, "--json", env=env
        )
        snap.check("session-create-fork-missing-error", failed, exit_code=failed.exit_code or 5)
        [failed_key] = [
            k["key"] for k in run("keys", "list", "--json", env=env).json if k["state"] == "failed"
        ]
        snap.check("keys-abandon-dry-run", run("keys", "abandon", failed_key, "--dry-run", "--json", env=env))
        snap.check("keys-abandon", run("keys", "abandon", failed_key, "--yes", "--json", env=env))
        snap.check(
            "keys-resume-unknown-error", run("keys", "resume", "no-such-key", "--json", env=env), exit_code=3
        )
        fake.add_repo(f"{ORG}/forgea-leak-hunt-0badc0de")
        snap.check("repo-reconcile", run("repo", "reconcile", "--json", env=env))

        ping = tmp_path / "ping.json"
        ping.write_text(json.dumps({"zen": "Keep it logically awesome.", "hook_id": 42}), encoding="utf-8")
        guid = str(uuid.UUID(int=42))
        replay = ["webhook", "replay", str(ping), "--event", "ping", "--delivery-id", guid]
        snap.check("webhook-replay-dry-run", run(*replay, "--dry-run", "--json", env=env))
        snap.check("webhook-replay", run(*replay, "--json", env=env))
        snap.check("webhook-deliveries", run("webhook", "deliveries", "--json", env=env))
        now = datetime.now(UTC)
        for i in range(2):
            fake.add_hook_delivery(
                f"org:{ORG}",
                7,
                guid=f"org-failed-{i}",
                status_code=504,
                delivered_at=now - timedelta(hours=i + 1),
            )
        redeliver = ["webhook", "redeliver", "--org", ORG, "--hook-id", "7", "--pause", "0"]
        snap.check("webhook-redeliver-dry-run", run(*redeliver, "--dry-run", "--json", env=env))
        snap.check("webhook-redeliver", run(*redeliver, "--json", env=env))
    COVERED.update(snap.checked)
    snap.assert_clean()


def test_every_json_command_has_a_snapshot():
    """Runs after the two above (file order): a new command with --json needs a document here."""
    if not COVERED:
        pytest.skip("run with the snapshot tests above")
    missing = json_commands() - COVERED
    assert not missing, f"commands with --json but no snapshot: {sorted(missing)}"
