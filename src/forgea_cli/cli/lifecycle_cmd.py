"""`forgea lifecycle`: the LabSession state machine, as a table, Mermaid or JSON."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from forgea_cli.cli import output
from forgea_cli.cli.groups import command_group
from forgea_cli.cli.options import Json

app = command_group("lifecycle")


class Format(StrEnum):
    table = "table"
    mermaid = "mermaid"


@app.command()
def show(
    format: Annotated[Format, typer.Option("--format", help="table or mermaid.")] = Format.table,
    json: Json = False,
) -> None:
    """Print the transition table with its preconditions (no database needed)."""
    from forgea_cli import lifecycle

    if json:
        output.emit_json(lifecycle.as_json_document())
    elif format is Format.mermaid:
        typer.echo(lifecycle.mermaid(), nl=False)
    else:
        rows = [
            (r["from"], r["to"], "yes" if r["allowed"] else "no", r["precondition_text"] or "")
            for r in lifecycle.as_rows()
            if not r["unchanged"]
        ]
        output.table("LabSession transitions", ["from", "to", "allowed", "precondition"], rows)
