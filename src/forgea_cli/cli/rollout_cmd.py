"""`forgea rollout`: where the rollout stands — the runbook as a checklist."""

from __future__ import annotations

from typing import Annotated

import typer

from forgea_cli.cli import output
from forgea_cli.cli.groups import command_group
from forgea_cli.cli.options import Json
from forgea_cli.cli.runtime import runtime

app = command_group("rollout")

MARKS = {"done": "✓", "todo": "✗", "blocked": "·"}


@app.command()
def status(
    ctx: typer.Context,
    json: Json = False,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Skip the last step (verify-constraints); it stays unchecked.")
    ] = False,
) -> None:
    """The runbook as a checklist: each step done (✓), or the exact command to run next.

    Steps, in the runbook's order: adopted, expanded, each backfill's remaining rows (repo-mappings:
    what `mapping backfill` would map now), duplicate active sessions, contract, mapping ids resolved,
    verify-constraints. Read-only. Exit 0 only when every step is done, 1 otherwise.
    """
    from forgea_cli.services.rollout import rollout_status

    rt = runtime(ctx)
    result = rollout_status(rt.uow, web_host=rt.settings.github_web_url, verify=not no_verify)
    if json:
        output.emit_json(result)
    else:
        width = max(len(step.title) for step in result.steps)
        for step in result.steps:
            line = f"{MARKS[step.state]} {step.title.ljust(width)}  {step.detail}"
            output.show(
                line + (f"\n  {' ' * width}  → {step.next}" if step.state == "todo" and step.next else "")
            )
        output.show("rollout complete" if result.done else f"next: {result.next or 'see the steps above'}")
    if not result.done:
        raise typer.Exit(1)
