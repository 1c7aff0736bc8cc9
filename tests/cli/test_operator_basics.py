"""Small things operators expect: --quiet, `lab list`, shell completion that keeps --help fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_quiet_keeps_the_answer_and_the_errors_but_no_messages(forgea, migrated_db):
    loud = forgea("keys", "list", url=migrated_db)
    assert loud.exit_code == 0 and "no keys" in loud.stderr
    quiet = forgea("--quiet", "keys", "list", url=migrated_db)
    assert quiet.exit_code == 0 and quiet.stderr == ""

    as_json = forgea("-q", "backfill", "all", "--dry-run", "--json", url=migrated_db)
    assert json.loads(as_json.stdout)["backfills"] and as_json.stderr == ""
    status = forgea("-q", "migrate", "status", url=migrated_db)
    assert "current:" in status.stdout  # the answer is not a message

    failed = forgea("--quiet", "session", "show", "not-a-session", url=migrated_db)
    assert failed.exit_code != 0 and failed.stderr.startswith("error: ")


def _forgea(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FORGEA_", "_FORGEA"))}
    base["PYTHONPATH"] = str(REPO_ROOT / "src") + os.pathsep + base.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "forgea_cli", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_shell_completion_can_be_shown_and_completes_groups_and_commands():
    help_text = _forgea("--help").stdout
    assert "--install-completion" in help_text and "--show-completion" in help_text
    script = subprocess.run(
        [str(Path(sys.executable).parent / "forgea"), "--show-completion", "bash"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert script.returncode == 0 and "_FORGEA_COMPLETE" in script.stdout

    def complete(words: str) -> list[str]:
        env = {
            "_FORGEA_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split())),
        }
        if words.endswith(" "):
            env["COMP_CWORD"] = str(len(words.split()))
        else:
            env["COMP_CWORD"] = str(len(words.split()) - 1)
        done = subprocess.run(
            [str(Path(sys.executable).parent / "forgea")],
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout.split()

    assert {"session", "rollout", "lab", "demo", "verify-constraints"} <= set(complete("forgea "))
    assert "create" in complete("forgea session ")
    assert "--roster" in complete("forgea session create --r")


LAZY_PROBE = r"""
import io, contextlib, sys
from forgea_cli.cli.app import app
import typer
root = typer.main.get_command(app)
with contextlib.redirect_stdout(io.StringIO()):
    try:
        root(["session", "--help"], prog_name="forgea")
    except SystemExit:
        pass
session = root.commands["session"]
loaded = [m in sys.modules for m in ("forgea_cli.cli.verify_cmd", "forgea_cli.cli.demo_cmd")]
print(sorted(session.commands), *loaded)
"""


def test_session_help_converts_no_command_and_loads_no_other_command():
    """What keeps `forgea session --help` fast: the group lists its commands from their docstrings
    (Typer converts a command's options only when it runs or shows its own help), and the root's
    own commands (demo, verify-constraints) load only when used."""
    probe = subprocess.run(
        [sys.executable, "-c", LAZY_PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    assert probe.stdout.strip() == "[] False False", probe.stderr


def test_root_commands_list_the_first_line_of_their_own_help():
    from forgea_cli.cli import groups

    for name, spec in groups.COMMANDS.items():
        command = groups.load_command(name)
        assert command.help.splitlines()[0] == spec.help, name


def test_lab_list_gives_the_ids_session_create_takes(forgea, migrated_db):
    from tests.integration.session_create_support import seed, sql

    seeded = seed(migrated_db, students=0)
    sql(
        migrated_db,
        """INSERT INTO "Lab" (id, title, epic, "sourceGithubIssueUrl", "repoVersion", "baseRepoUrl",
           "failureClass", constraints)
           VALUES (\'00000000-0000-4000-8000-0000000000aa\', \'Async [bold]Races\', \'concurrency\',
                   \'https://github.com/forgea/labs/issues/9\', \'v3\', \'https://github.com/forgea-labs/races\',
                   \'STATE_CORRUPTION\', \'{}\')""",
    )
    labs = json.loads(forgea("lab", "list", "--json", url=migrated_db).stdout)
    assert [lab["title"] for lab in labs] == ["Async [bold]Races", "Leak Hunt"]
    races, leak = labs
    assert leak["id"] == str(seeded.lab_id) and leak["currentVersion"] == "v1"
    assert leak["labVersionId"] == str(seeded.version_id) and leak["versions"] == 1
    assert races["labVersionId"] is None and races["versions"] == 0

    plain = forgea("lab", "list", "--format", "plain", url=migrated_db).stdout.splitlines()
    assert plain[1].split("\t")[:3] == [str(seeded.lab_id), "Leak Hunt", "v1"]  # ids never cut
    table = forgea("lab", "list", url=migrated_db, env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "none yet: `forgea backfill lab-versions`" in table.stdout
    assert "Async [bold]Races" in table.stdout
