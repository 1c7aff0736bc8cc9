"""Roster creation: concurrent rows, one shared pacer, per-row outcomes, and a rerun creates nothing twice."""

from __future__ import annotations

import json
import threading

import pytest

from forgea_cli.errors import InvalidInput
from forgea_cli.github.pacing import CreationPacer
from forgea_cli.services.sessions import roster
from tests.integration.session_create_support import CONFIG, cli_env, our_repos
from tests.processes import interruptible

pytest_plugins = ("tests.integration.session_create_fixtures",)


class CountingPacer(CreationPacer):
    def __init__(self) -> None:
        super().__init__(per_minute=80, per_hour=500)
        self.acquired = 0
        self._count_lock = threading.Lock()

    def acquire(self) -> float:
        with self._count_lock:
            self.acquired += 1
        return super().acquire()


def write(path, lines: list[str]):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def roster_lines(seeded) -> list[str]:
    (_u0, e0), (u1, _e1), (u2, e2) = seeded.users[:3]
    return [
        "email,user_id,fork_url",
        f"{e0.upper()},,",  # emails match case-insensitively
        f",{u1},",
        f"{e2},,https://github.com/student-two/leak-hunt",
        "nobody@example.edu,,",  # only the database can tell: that row fails, the others run
        f"{e0},{u2},",  # id and email of different students
    ]


def test_a_roster_creates_each_student_once_and_reports_bad_rows(
    seeded, fake_github, make_gateway, uow, tmp_path
):
    fake_github.add_repo("student-two/leak-hunt")
    pacer = CountingPacer()
    rows = roster.read_roster(write(tmp_path / "roster.csv", roster_lines(seeded)))
    report = roster.run_roster(
        uow, lambda: make_gateway(pacer=pacer), CONFIG, lab=str(seeded.lab_id), lab_version=None, rows=rows
    )

    by_line = {row.line: row for row in report.rows}
    assert [by_line[n].status for n in (2, 3, 4)] == ["created", "created", "created"]
    assert by_line[4].repo == "student-two/leak-hunt"
    reasons = {n: by_line[n].reason for n in range(5, 7)}
    assert "no user with id or email" in reasons[5]
    assert "belongs to" in reasons[6]
    assert report.counts() == {"created": 3, "failed": 2} and report.any_failed
    assert len(our_repos(fake_github)) == 2 and pacer.acquired == fake_github.request_count("generate") == 2
    assert seeded.counts() == {"sessions": 3, "mappings": 3, "lab_start": 3, "keys": 3}


def test_a_rerun_of_the_roster_in_another_order_replays_everything(
    seeded, fake_github, make_gateway, uow, tmp_path
):
    for n in range(3, 12):
        seeded.add_user(f"student{n}@example.edu")
    lines = ["email"] + [email for _id, email in seeded.users]
    first = roster.run_roster(
        uow,
        make_gateway,
        CONFIG,
        lab=str(seeded.lab_id),
        lab_version="v1",
        rows=roster.read_roster(write(tmp_path / "a.csv", lines)),
        workers=4,
    )
    generated = fake_github.request_count("generate")
    shuffled = [lines[0], *reversed(lines[1:])]
    second = roster.run_roster(
        uow,
        make_gateway,
        CONFIG,
        lab=str(seeded.lab_id),
        lab_version=None,
        rows=roster.read_roster(write(tmp_path / "b.csv", shuffled)),
    )
    assert first.counts() == {"created": 12} and second.counts() == {"replayed": 12}
    assert fake_github.request_count("generate") == generated == 12
    assert {r.session_id for r in first.rows} == {r.session_id for r in second.rows}
    assert len(our_repos(fake_github)) == 12 and seeded.counts()["sessions"] == 12


def test_a_roster_dry_run_writes_nothing(seeded, fake_github, make_gateway, uow, tmp_path):
    unknown = "00000000-0000-0000-0000-0000000000bd"
    rows = roster.read_roster(write(tmp_path / "r.csv", ["user_id", str(seeded.user_id), "", unknown]))
    report = roster.run_roster(
        uow, make_gateway, CONFIG, lab=str(seeded.lab_id), lab_version=None, rows=rows, dry_run=True
    )
    assert [r.status for r in report.rows] == ["would-create", "failed"]
    assert seeded.counts()["keys"] == 0 and {e.method for e in fake_github.request_log} == {"GET"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the roster"),
        ("name,fork_url\nAda,\n", "needs an `email` or `user_id` column"),
        ("email\n", "has no rows"),
        (b"\xff\xfe\x00email", "cannot read the roster"),
    ],
)
def test_an_unusable_roster_file_is_refused(tmp_path, content, message):
    path = tmp_path / "roster.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInput, match=message):
        roster.read_roster(path)


def test_the_roster_command_prints_a_table_or_json_and_exits_1_on_failed_rows(
    forgea, seeded, fake_github, tmp_path
):
    env = cli_env(seeded, fake_github, tmp_path, COLUMNS="250")  # wide enough for the whole table
    good = write(tmp_path / "good.csv", ["email", seeded.email])
    bad = write(tmp_path / "bad.csv", ["email", seeded.users[1][1], "nobody@example.edu"])
    lab = str(seeded.lab_id)

    ok = forgea("session", "create", "--roster", str(good), "--lab", lab, env=env)
    assert ok.exit_code == 0, ok.stderr
    assert "created" in ok.stdout and seeded.email in ok.stdout and "1 created" in ok.stdout

    partial = forgea("session", "create", "--roster", str(bad), "--lab", lab, "--json", env=env)
    assert partial.exit_code == 1
    document = json.loads(partial.stdout)
    assert document["summary"] == {"created": 1, "failed": 1}
    assert [row["status"] for row in document["rows"]] == ["created", "failed"]

    rerun = forgea("session", "create", "--roster", str(good), "--lab", lab, "--json", env=env)
    assert json.loads(rerun.stdout)["summary"] == {"replayed": 1}

    unusable = forgea("session", "create", "--roster", str(tmp_path / "missing.csv"), "--lab", lab, env=env)
    assert unusable.exit_code == 2 and "cannot read the roster" in unusable.stderr
    mixed = forgea("session", "create", "--roster", str(good), "--lab", lab, "--user", seeded.email, env=env)
    assert mixed.exit_code == 2 and "--roster" in mixed.stderr


def test_a_roster_with_bad_lines_is_refused_before_anything_is_written(forgea, seeded, fake_github, tmp_path):
    env = cli_env(seeded, fake_github, tmp_path)
    (_u0, e0), (u1, _e1) = seeded.users[:2]
    path = tmp_path / "bad.csv"
    path.write_text(
        "\n".join(
            [
                "email,user_id,fork_url",
                f"{e0},,",  # fine
                f"stu\x00dent9@example.edu,{u1},",  # a NUL byte: PostgreSQL cannot store it
                ",,",  # no identity
                ",not-a-uuid,",
                "ada-at-example.edu,,",
                f"{e0},,",  # the same student again
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    result = forgea(
        "session", "create", "--roster", str(path), "--lab", str(seeded.lab_id), "--json", env=env
    )
    assert result.exit_code == 2, result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "INVALID_INPUT" and "5 bad lines; nothing was written" in error["message"]
    for expected in (
        "line 3: a NUL byte in email",
        "line 4: no email or user_id",
        "line 5: user_id 'not-a-uuid' is not a UUID",
        "line 6: email 'ada-at-example.edu' is not an email address",
        "line 7: same student as line 2",
    ):
        assert expected in error["message"] and expected in result.stderr
    assert "line 2" not in error["message"].replace("as line 2", "")
    assert "unexpected" not in result.stderr and "DataError" not in result.stderr
    assert seeded.counts() == {"sessions": 0, "mappings": 0, "lab_start": 0, "keys": 0}
    assert our_repos(fake_github) == [] and fake_github.request_count("generate") == 0


def test_ctrl_c_during_a_roster_stops_starting_rows_and_prints_what_happened(seeded, fake_github, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from tests.integration.session_create_support import REPO_ROOT

    for n in range(3, 8):
        seeded.add_user(f"student{n}@example.edu")
    path = write(tmp_path / "week1.csv", ["email"] + [email for _id, email in seeded.users])
    env = cli_env(seeded, fake_github, tmp_path, COLUMNS="250")
    base = {k: v for k, v in __import__("os").environ.items() if not k.startswith("FORGEA_")}
    base["PYTHONPATH"] = str(REPO_ROOT / "src")
    command = [sys.executable, "-m", "forgea_cli", "session", "create", "--roster", str(path)]
    command += ["--lab", str(seeded.lab_id), "--workers", "1"]
    fake_github.latency_seconds = 0.3  # each row takes a few answers: Ctrl-C lands after the first
    process = interruptible(
        command, env={**base, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while seeded.counts()["sessions"] < 1 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    fake_github.latency_seconds = 0.0

    assert process.returncode == 130, stderr
    created = seeded.counts()["sessions"]
    assert 1 <= created < 8
    rows = [line for line in stdout.splitlines() if line.startswith("│")]
    assert (
        sum(" created " in r for r in rows) == created
        and sum("not-started" in r for r in rows) == 8 - created
    )
    assert f"{created} created, {8 - created} not-started" in stdout  # the table's summary line
    assert f"error: interrupted: {created} created, {8 - created} not-started" in stderr
    assert "hint: rerun the same roster" in stderr and "Traceback" not in stderr

    rerun = subprocess.run(
        [*command, "--json"], env={**base, **env}, capture_output=True, text=True, timeout=120
    )
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["summary"] == {"replayed": created, "created": 8 - created}
