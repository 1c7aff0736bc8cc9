"""Roster creation: concurrent rows, one shared pacer, per-row outcomes, and a rerun creates nothing twice."""

from __future__ import annotations

import json
import threading

import pytest

from forgea_cli.errors import InvalidInput
from forgea_cli.github.pacing import CreationPacer
from forgea_cli.services.sessions import roster
from tests.integration.session_create_support import CONFIG, cli_env, our_repos

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
        ",,",  # no identity
        ",not-a-uuid,",
        "nobody@example.edu,,",
        f"{e0},,",  # the same student again
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
    reasons = {n: by_line[n].reason for n in range(5, 10)}
    assert reasons[5] == "no email or user_id"
    assert "not a UUID" in reasons[6]
    assert "no user with id or email" in reasons[7]
    assert reasons[8] == "same student as line 2"
    assert "belongs to" in reasons[9]
    assert report.counts() == {"created": 3, "failed": 5} and report.any_failed
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
    rows = roster.read_roster(write(tmp_path / "r.csv", ["user_id", str(seeded.user_id), "", "bad"]))
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
