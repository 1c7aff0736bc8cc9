"""`forgea demo`: a guided tour on the embedded database — legacy data in, rollout, checks."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from forgea_cli.cli import output
from forgea_cli.cli.runtime import runtime

if TYPE_CHECKING:
    from forgea_cli.demo.plan import DemoWorld

DEMO_FORK = "demo-student/leaky-cache-fix"


def demo(
    ctx: typer.Context,
    reset: Annotated[
        bool, typer.Option("--reset", help="Drop the demo database and build it again.")
    ] = False,
) -> None:
    """Walk the rollout runbook on a small legacy database in the embedded PostgreSQL (no network)."""
    from forgea_cli.db.embedded import EmbeddedDatabase
    from forgea_cli.demo import plan, world
    from forgea_cli.redaction import mask_url

    settings = runtime(ctx).settings
    embedded_url = EmbeddedDatabase(settings.data_dir).start()
    url, built = world.prepare(embedded_url, reset=reset)
    if built:
        output.say(f"built the demo database {world.DEMO_DATABASE}: a Prisma-made schema with legacy data")
    else:
        output.say(
            f"reusing the demo database {world.DEMO_DATABASE} from an earlier run (every step is "
            "idempotent; `forgea demo --reset` starts over)"
        )
    output.say(f"FORGEA_DATABASE_URL={mask_url(url)}\n")
    with world.local_fake_github(DEMO_FORK) as github_url:
        fork = f"https://github.com/{DEMO_FORK}" if github_url else None
        env = _environment(url, github_url)
        for step in plan.rollout_steps(_describe(url, fork, fresh=built)):
            _run(step, env)
    output.say("\n" + _final_line(url))


def _final_line(url: str) -> str:
    """What the demo achieved, counted from the database (not assumed): the rollout's steps, the
    gate's warnings, and the database URL to explore it further, on one line."""
    from forgea_cli.db.engine import make_engine
    from forgea_cli.db.uow import unit_of_work_factory
    from forgea_cli.documents import plural
    from forgea_cli.redaction import mask_url
    from forgea_cli.services.rollout import rollout_status

    engine = make_engine(url)
    try:
        status = rollout_status(unit_of_work_factory(engine))
    finally:
        engine.dispose()
    done = sum(step.done for step in status.steps)
    rollout = (
        f"rollout complete ({done} of {len(status.steps)} steps)"
        if status.done
        else f"{done} of {len(status.steps)} rollout steps done (next: {status.next})"
    )
    verify = status.facts.verify
    if verify is None:
        gate = "verify-constraints did not run"
    else:
        verdict = "passed" if verify.ok else f"failed ({plural(verify.failed, 'check')})"
        gate = f"verify-constraints {verdict} with {plural(verify.warnings, 'warning')}"
    return f"demo finished: {rollout}; {gate}; FORGEA_DATABASE_URL={mask_url(url)}"


def _describe(url: str, fork_url: str | None, *, fresh: bool) -> DemoWorld:
    from forgea_cli.db.engine import make_engine
    from forgea_cli.db.uow import unit_of_work_factory
    from forgea_cli.demo import world

    engine = make_engine(url, pool_size=1)
    try:
        return world.describe(unit_of_work_factory(engine), fork_url, fresh=fresh)
    finally:
        engine.dispose()


def _environment(url: str, github_url: str | None) -> dict[str, str]:
    env = {**os.environ, "FORGEA_DATABASE_URL": url, "FORGEA_ACTOR": "demo:operator"}
    if github_url:
        env.update(
            FORGEA_GITHUB_API_URL=github_url, FORGEA_GITHUB_ORG="demo-org", FORGEA_GITHUB_TOKEN="demo-token"
        )
    return env


def _run(step, env: dict[str, str]) -> None:
    output.say(f"\n# {step.say}", style="bold")
    output.say(f"$ forgea {' '.join(step.args)}", style="cyan")
    completed = subprocess.run([sys.executable, "-m", "forgea_cli", *step.args], env=env)
    if completed.returncode != step.expect_exit:
        from forgea_cli.errors import OperationFailed

        command = " ".join(step.args)
        code = completed.returncode
        raise OperationFailed(f"demo step `forgea {command}` exited {code}, not {step.expect_exit}")
    if step.expect_exit:
        output.say(f"(exit {completed.returncode}, as expected)")
