"""The demo's steps: each is a real `forgea` command, printed before it runs (pure data)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    say: str  # what a newcomer should notice
    args: tuple[str, ...]
    expect_exit: int = 0


@dataclass(frozen=True)
class DemoWorld:
    """Names the steps refer to, read from the demo database once it is built."""

    student_email: str
    lab_id: str
    messy_url: str
    active_session: str  # an IN_PROGRESS session that is its student's only active one for the lab
    fork_url: str | None  # None when no local fake GitHub is available
    fresh: bool = True  # False when an earlier run's database is reused


def rollout_steps(world: DemoWorld) -> list[Step]:
    steps = [
        Step("A database Prisma built: no Alembic revision yet.", ("migrate", "status")),
        Step("Check it matches the baseline; the dry run stamps nothing.", ("migrate", "adopt", "--dry-run")),
        Step("Adopt it: stamp the baseline revision (a second run is a no-op).", ("migrate", "adopt")),
        Step("Expand: additive, lock-safe DDL only.", ("migrate", "upgrade", "0005_f6_session_indexes")),
    ]
    if world.fresh:
        steps.append(
            Step(
                "The contract refuses until the data is ready, and names the commands to run.",
                ("migrate", "upgrade"),
                expect_exit=1,
            )
        )
    steps += [
        Step("Every backfill, counted first (dry run).", ("backfill", "all", "--dry-run")),
        Step("Now for real: batched, resumable, idempotent.", ("backfill", "all", "--batch-size", "100")),
        Step(
            "Students with two active sessions for one lab.", ("backfill", "resolve-duplicates", "--dry-run")
        ),
        Step(
            "Defer all but the most recent one, each with an audit row.", ("backfill", "resolve-duplicates")
        ),
        Step("Contract: NOT NULL, CHECKs, the one-active-session index.", ("migrate", "upgrade")),
        Step(
            "The webhook lookup for a messy legacy URL (read-only).",
            ("mapping", "lookup", "--url", world.messy_url),
        ),
    ]
    if world.fork_url:
        steps.append(
            Step(
                "Bind an existing repository to a new session (a local fake GitHub answers).",
                (
                    "session",
                    "create",
                    "--user",
                    world.student_email,
                    "--lab",
                    world.lab_id,
                    "--fork-url",
                    world.fork_url,
                ),
            )
        )
    steps += [
        Step("Sessions of that student.", ("session", "list", "--user", world.student_email, "--limit", "5")),
        Step("The state machine the database enforces.", ("lifecycle", "show")),
        Step(
            "A transition, asked of the database first (dry run), then for real with its audit row.",
            ("session", "transition", world.active_session, "--to", "STUCK", "--dry-run"),
        ),
        Step(
            "One compare-and-set plus one AuditLog row, in one transaction.",
            (
                "session",
                "transition",
                world.active_session,
                "--to",
                "STUCK",
                "--reason",
                "demo: no push for a week",
            ),
        ),
        Step(
            "The session with its version, mapping, attempts and audit timeline.",
            ("session", "show", world.active_session),
        ),
        Step(
            "The CI gate. Catalog, behaviour probes, data invariants, migrations.",
            ("verify-constraints",),
        ),
    ]
    if world.fork_url:
        steps.append(
            Step(
                "Resolve repository ids from GitHub (the local fake knows none of the legacy repositories: "
                "they become NOT_FOUND).",
                ("mapping", "resolve-ids"),
            )
        )
    steps.append(
        Step(
            "Last: where the rollout stands, the runbook as a checklist (exit 0 once every step is done).",
            ("rollout", "status"),
            # Without a GitHub to ask, the repository ids stay PENDING: the checklist names resolve-ids.
            expect_exit=0 if world.fork_url else 1,
        )
    )
    return steps
