"""`forgea db`: the embedded PostgreSQL used when no database URL is configured."""

from __future__ import annotations

from typing import Annotated

import typer

from forgea_cli.cli import output
from forgea_cli.cli.groups import command_group
from forgea_cli.cli.options import Json
from forgea_cli.cli.runtime import runtime

app = command_group("db")


def _embedded(ctx: typer.Context):
    from forgea_cli.db.embedded import EmbeddedDatabase

    return EmbeddedDatabase(runtime(ctx).settings.data_dir)


Replica = Annotated[
    bool,
    typer.Option(
        "--replica",
        help="Also a streaming standby of it (pg_basebackup from the same binaries), for read-only reports "
        "(FORGEA_REPLICA_URL) and replication-lag throttling.",
    ),
]


@app.command()
def start(ctx: typer.Context, replica: Replica = False) -> None:
    """Start the embedded database (initialising it on first use) and print its URL."""
    from forgea_cli.redaction import mask_url

    embedded = _embedded(ctx)
    url = embedded.start()
    output.say("embedded PostgreSQL running; database URL:")
    typer.echo(mask_url(url))
    if replica:
        standby = embedded.start_replica()
        output.say("streaming standby running; for read-only reports: export FORGEA_REPLICA_URL=")
        typer.echo(mask_url(standby.url()))


@app.command()
def stop(ctx: typer.Context) -> None:
    """Stop the embedded database."""
    stopped = _embedded(ctx).stop()
    output.show("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")


@app.command()
def status(ctx: typer.Context, json: Json = False) -> None:
    """Show whether the embedded database is running, and where its data lives."""
    embedded = _embedded(ctx)
    state = embedded.status()
    standby = embedded.replica()
    document = {
        "running": state.running,
        "pgdata": str(state.pgdata),
        "pid": state.pid,
        "socketDir": str(state.socket_dir) if state.socket_dir else None,
        "configuredUrlOverrides": runtime(ctx).settings.database_url is not None,
        "replica": {"running": True, "pgdata": str(standby.pgdata), "socketDir": str(standby.socket_dir)}
        if standby
        else {"running": False},
    }
    if json:
        output.emit_json(document)
        return
    output.show(f"running: {'yes' if state.running else 'no'}  pid: {state.pid or '-'}  data: {state.pgdata}")
    if standby:
        output.show(f"replica: running  data: {standby.pgdata}")
    if document["configuredUrlOverrides"]:
        output.warn("FORGEA_DATABASE_URL is set: commands use it, not the embedded database")


@app.command()
def url(
    ctx: typer.Context,
    replica: Annotated[bool, typer.Option("--replica", help="The embedded standby's URL instead.")] = False,
) -> None:
    """Print the database URL commands use (the password masked)."""
    from forgea_cli.db.engine import resolve_database_url
    from forgea_cli.errors import NotFound
    from forgea_cli.redaction import mask_url

    if replica:
        standby = _embedded(ctx).replica()
        if standby is None:
            raise NotFound("the embedded standby is not running", hint="`forgea db start --replica`")
        typer.echo(mask_url(standby.url()))
        return
    typer.echo(mask_url(resolve_database_url(runtime(ctx).settings)))
