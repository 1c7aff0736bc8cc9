"""`forgea demo`: a guided tour on the embedded database."""

from __future__ import annotations

import typer

from forgea_cli.cli import output
from forgea_cli.cli.runtime import runtime


def demo(ctx: typer.Context) -> None:
    """Start the embedded database, migrate it to head and show the migration status."""
    from forgea_cli.services import migrations

    rt = runtime(ctx)
    output.say("$ forgea migrate upgrade")
    before, after = migrations.upgrade(rt.engine, "head", migrations.default_timeouts())
    output.say(f"upgraded {before or 'base'} -> {after}" if before != after else f"already at {after}")
    output.say("$ forgea migrate status")
    state = migrations.status(rt.engine)
    output.show(f"current: {state.current}\nhead:    {state.head}")
