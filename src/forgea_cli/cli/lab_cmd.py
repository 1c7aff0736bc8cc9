"""`forgea lab`: the labs, with the ids `session create --lab` takes."""

from __future__ import annotations

import typer

from forgea_cli.cli import output
from forgea_cli.cli.groups import command_group
from forgea_cli.cli.options import Json, ListFormat
from forgea_cli.cli.runtime import runtime

app = command_group("lab")


@app.command("list")
def list_labs(ctx: typer.Context, format: ListFormat = None, json: Json = False) -> None:
    """Labs with their ids, titles and current version (the one `session create` uses by default).

    A lab whose current version has no LabVersion row yet says so:
    `forgea backfill lab-versions` creates it.
    """
    from forgea_cli.services import labs

    rt = runtime(ctx)
    views = labs.list_labs(rt.replica_uow)
    output.listing(
        output.listing_format(format, json),
        document=views,
        columns=["id", "title", "version", "labVersionId"],
        rows=[(v.lab.id, v.lab.title, v.lab.current_version, v.version_note) for v in views],
        title=None,
        empty="no labs",
    )
