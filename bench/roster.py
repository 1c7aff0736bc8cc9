"""Roster creation against the fake GitHub under GitHub's creation limit, on a scaled clock.

200 students, 100 ms added to every GitHub call, and a cap of 80 repository creations per minute
enforced by the fake — with the minute scaled down (default 1.5 s) on both sides: the fake's
sliding window and the client's CreationPacer run on the same scaled clock, the pacer's minute 5%
longer. That margin absorbs the jitter between the pacer granting a slot and the fake counting the
request (tens of milliseconds on a busy machine): scaling magnifies it 40 times, and without it a
few requests are refused at window edges (`--pacer-margin 0` shows it). Prints the wall time
against the sequential floor (one student after the other, GitHub latency only) and against the
cap floor (the least time the cap allows), the requests the fake refused for the cap (target 0),
and GitHub requests per created session; then reruns the roster (everything replays, no request).

    .venv/bin/python bench/roster.py [--students 200] [--latency 0.1] [--minute-seconds 1.5]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests.fakes` and `bench` importable

from bench.common import bench_server, print_table, scratch_database
from forgea_cli.db import migrations
from forgea_cli.db.engine import make_engine
from forgea_cli.db.uow import unit_of_work_factory
from forgea_cli.github.pacing import MINUTE, CreationPacer
from forgea_cli.github.pygithub_gateway import PyGithubGateway
from forgea_cli.services.sessions import CreationConfig, RosterRow, run_roster
from forgea_cli.testing.github_server import FakeGitHub

TOKEN = "bench-token"
TEMPLATE = "forgea-labs/bench-lab-template"
ORG = "forgea-bench"


class ScaledClock:
    """Monotonic time where one real second counts as ``scale`` seconds (the pacer's view)."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def now(self) -> float:
        return time.monotonic() * self.scale

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds / self.scale)


def seed(engine, students: int) -> uuid.UUID:
    from sqlalchemy import text

    lab_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            text(
                'INSERT INTO "Lab" (id, title, epic, "sourceGithubIssueUrl", "repoVersion", "baseRepoUrl", '
                "\"failureClass\", constraints) VALUES (:id, 'Bench Lab', 'bench', "
                "'https://github.com/forgea/labs/issues/1', 'v1', :url, 'RESOURCE_LEAK', '{}')"
            ),
            {"id": lab_id, "url": f"https://github.com/{TEMPLATE}"},
        )
        conn.execute(
            text('INSERT INTO "LabVersion" ("labId", version, "templateRepoUrl") VALUES (:id, \'v1\', :url)'),
            {"id": lab_id, "url": f"https://github.com/{TEMPLATE}"},
        )
        conn.execute(
            text(
                "INSERT INTO \"User\" (id, email) SELECT gen_random_uuid(), 'bench' || n || '@example.edu' "
                "FROM generate_series(1, :n) n"
            ),
            {"n": students},
        )
    return lab_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds added to every GitHub call")
    parser.add_argument("--per-minute", type=int, default=80, help="the creation cap (fake and pacer)")
    parser.add_argument("--minute-seconds", type=float, default=1.5, help="real seconds in a scaled minute")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument(
        "--pacer-margin",
        type=float,
        default=0.05,
        help="the pacer's minute is this fraction longer than the fake's (grant-to-arrival jitter)",
    )
    args = parser.parse_args()
    scale = MINUTE / args.minute_seconds

    with bench_server() as server, scratch_database(server, "roster") as dbname:
        engine = make_engine(server.url(dbname), pool_size=args.workers)
        try:
            migrations.upgrade(engine, "head")
            lab_id = seed(engine, args.students)
            run(engine, lab_id, args, scale)
        finally:
            engine.dispose()


def run(engine, lab_id: uuid.UUID, args: argparse.Namespace, scale: float) -> None:
    clock = ScaledClock(scale / (1 + args.pacer_margin))
    pacer = CreationPacer(per_minute=args.per_minute, per_hour=500, clock=clock.now, sleep=clock.sleep)
    rows = [RosterRow(n + 2, None, f"bench{n + 1}@example.edu", None) for n in range(args.students)]
    config = CreationConfig(org=ORG, repo_prefix="forgea-", actor="bench:roster")
    uow = unit_of_work_factory(engine)
    with FakeGitHub(token=TOKEN) as fake:
        fake.add_repo(TEMPLATE, is_template=True)
        fake.latency_seconds = args.latency
        fake.creation_cap(args.per_minute, clock_scale=scale)
        fake.request_count()  # warm the lock; counters start empty

        def make_gateway() -> PyGithubGateway:
            return PyGithubGateway(fake.url, TOKEN, pacer=pacer, timeout=30)

        started = time.perf_counter()
        report = run_roster(
            uow, make_gateway, config, lab=str(lab_id), lab_version=None, rows=rows, workers=args.workers
        )
        wall = time.perf_counter() - started
        requests = fake.request_count()
        refused = fake.refused_by_cap

        rerun_started = time.perf_counter()
        rerun = run_roster(uow, make_gateway, config, lab=str(lab_id), lab_version=None, rows=rows)
        rerun_wall = time.perf_counter() - rerun_started
        rerun_requests = fake.request_count() - requests

    created = report.counts().get("created", 0)
    per_session = requests / created if created else float("nan")
    sequential_floor = args.students * per_session * args.latency
    cap_floor = (math.ceil(args.students / args.per_minute) - 1) * args.minute_seconds + args.latency
    title = (
        f"roster: {args.students} students, {args.latency * 1000:.0f} ms per GitHub call, {args.per_minute} "
        f"creations per minute (a minute = {args.minute_seconds:g} s, pacer margin {args.pacer_margin:.0%}), "
        f"{args.workers} workers"
    )
    print_table(
        title,
        [
            (
                "outcomes",
                ", ".join(f"{n} {s}" for s, n in sorted(report.counts().items())),
                f"target {args.students} created",
            ),
            ("wall time", f"{wall:.2f} s", ""),
            (
                "sequential floor",
                f"{sequential_floor:.2f} s",
                f"wall / floor = {wall / sequential_floor:.2f}",
            ),
            ("cap floor", f"{cap_floor:.2f} s", f"wall / cap floor = {wall / cap_floor:.2f}"),
            ("refused by the cap", str(refused), "target 0"),
            ("GitHub requests per created session", f"{per_session:.2f}", "1 = one POST, no retry"),
            ("rerun", f"{rerun_wall:.2f} s", f"{rerun.counts()} with {rerun_requests} GitHub requests"),
        ],
    )


if __name__ == "__main__":
    main()
