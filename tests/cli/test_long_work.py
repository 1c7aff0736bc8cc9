"""Long work talks (issue 15): a progress line every few seconds off a terminal, and Ctrl-C during a
backfill says what was committed and that a rerun resumes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from forgea_cli.cli.progress import LineProgress
from tests.integration.rollout_support import adopt_and_expand, libpq, load_legacy
from tests.processes import interruptible

REPO_ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_progress_line_every_interval_with_done_total_rate_and_eta():
    clock, lines = Clock(), []
    progress = LineProgress(5.0, clock=clock, write=lines.append)
    progress.start("lab-versions (sessions)", 10_000)
    clock.now += 1
    progress.advance(1_000)  # before the interval: silent
    assert lines == []
    clock.now += 4
    progress.advance(1_000)
    assert lines == ["lab-versions (sessions): 2,000/10,000 (20%) · 400/s · ETA 20 s\n"]
    clock.now += 2
    progress.advance(1_000)  # the next line waits for the next interval
    clock.now += 3
    progress.advance(1_000)
    clock.now += 190
    progress.finish()
    assert len(lines) == 3 and lines[1].startswith("lab-versions (sessions): 4,000/10,000 (40%) · 400/s")
    assert lines[2] == "lab-versions (sessions): 4,000/10,000 (40%) · 20/s · done in 3 min 20 s\n"


def test_short_work_prints_no_progress_at_all():
    lines = []
    progress = LineProgress(5.0, clock=Clock(), write=lines.append)
    progress.start("completed-at", 3)
    progress.advance(3)
    progress.finish()
    assert lines == []


def _env(url: str, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FORGEA_")}
    base["PYTHONPATH"] = str(REPO_ROOT / "src") + os.pathsep + base.get("PYTHONPATH", "")
    return {**base, "FORGEA_DATABASE_URL": url, **extra}


def _linked(url: str) -> int:
    with psycopg.connect(libpq(url)) as conn:
        return conn.execute('SELECT count(*) FROM "LabSession" WHERE "labVersionId" IS NOT NULL').fetchone()[
            0
        ]


def test_off_a_terminal_a_backfill_prints_progress_lines_on_stderr(prisma_db):
    load_legacy(prisma_db, 1000)
    adopt_and_expand(prisma_db)
    command = [sys.executable, "-m", "forgea_cli", "backfill", "lab-versions", "--batch-size", "100"]
    result = subprocess.run(
        [*command, "--max-batch-size", "100", "--json"],
        env=_env(prisma_db, FORGEA_PROGRESS_SECONDS="0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["changed"] > 0  # stdout stays one document
    lines = [line for line in result.stderr.splitlines() if line.startswith("lab-versions (sessions): ")]
    assert len(lines) >= 10, result.stderr
    assert re.fullmatch(r"lab-versions \(sessions\): [\d,]+/1,000 \(\d+%\) · [\d.,]+/s · ETA \d+ s", lines[0])
    assert "done in" in lines[-1]


BACKFILL = [sys.executable, "-m", "forgea_cli", "backfill", "lab-versions", "--batch-size", "100"]


def _interrupted_backfill(url: str, *flags: str, after_linked: int):
    """3,000 legacy sessions; the backfill in small paced batches, Ctrl-C once ``after_linked`` are
    linked. (process, stdout, stderr)."""
    load_legacy(url, 3000)
    adopt_and_expand(url)
    process = interruptible(
        [*BACKFILL, "--max-batch-size", "100", "--pause", "0.05", *flags],
        env=_env(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while _linked(url) < after_linked and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    return process, stdout, stderr


def test_ctrl_c_during_a_backfill_says_what_was_committed_and_a_rerun_resumes(prisma_db):
    process, stdout, stderr = _interrupted_backfill(prisma_db, after_linked=500)
    assert process.returncode == 130, stderr
    match = re.search(
        r"error: interrupted: lab-versions \(sessions\) committed ([\d,]+) rows in ([\d,]+) batch(?:es)?; "
        r"the batch in flight was rolled back",
        stderr,
    )
    assert match, stderr
    committed = int(match.group(1).replace(",", ""))
    assert 0 < committed < 3000 and committed == _linked(prisma_db)
    assert "hint: rerun the same command: it resumes with what is still pending" in stderr
    assert "Traceback" not in stderr and stdout == ""

    rerun = subprocess.run(
        [*BACKFILL, "--json"], env=_env(prisma_db), capture_output=True, text=True, timeout=120
    )
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["sessionsLinked"] == 3000 - committed


def test_ctrl_c_under_json_is_one_error_document_with_the_report(prisma_db):
    process, stdout, stderr = _interrupted_backfill(prisma_db, "--json", after_linked=300)
    assert process.returncode == 130, stderr
    document = json.loads(stdout)
    assert document["error"]["code"] == "INTERRUPTED" and document["error"]["exitCode"] == 130
    assert document["result"]["backfill"] == "lab-versions (sessions)"
    assert document["result"]["changed"] == _linked(prisma_db)


def test_a_terminal_keeps_the_rich_bar(monkeypatch):
    from forgea_cli.cli import progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert isinstance(progress.for_terminal(), progress.RichProgress)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert isinstance(progress.for_terminal(), progress.LineProgress)
