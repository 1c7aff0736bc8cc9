"""`forgea db`: the embedded PostgreSQL used when no database URL is configured."""

from __future__ import annotations

import typer

from forgea_cli.cli import output
from forgea_cli.cli.groups import command_group
from forgea_cli.cli.options import Json
from forgea_cli.cli.runtime import runtime

app = command_group("db")


def _embedded(ctx: typer.Context):
    from forgea_cli.db.embedded import EmbeddedDatabase

    return EmbeddedDatabase(runtime(ctx).settings.data_dir)


@app.command()
def start(ctx: typer.Context) -> None:
    """Start the embedded database (initialising it on first use) and print its URL."""
    from forgea_cli.redaction import mask_url

    url = _embedded(ctx).start()
    output.say(f"embedded PostgreSQL running; database URL: {mask_url(url)}")


@app.command()
def stop(ctx: typer.Context) -> None:
    """Stop the embedded database."""
    stopped = _embedded(ctx).stop()
    output.say("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")


@app.command()
def status(ctx: typer.Context, json: Json = False) -> None:
    """Show whether the embedded database is running, and where its data lives."""
    state = _embedded(ctx).status()
    document = {
        "running": state.running,
        "pgdata": str(state.pgdata),
        "pid": state.pid,
        "socket_dir": str(state.socket_dir) if state.socket_dir else None,
        "configured_url_overrides": runtime(ctx).settings.database_url is not None,
    }
    if json:
        output.emit_json(document)
        return
    output.show(f"running: {'yes' if state.running else 'no'}  pid: {state.pid or '-'}  data: {state.pgdata}")
    if document["configured_url_overrides"]:
        output.warn("FORGEA_DATABASE_URL is set: commands use it, not the embedded database")


@app.command()
def url(ctx: typer.Context) -> None:
    """Print the database URL commands use (the password masked)."""
    from forgea_cli.db.engine import resolve_database_url
    from forgea_cli.redaction import mask_url

    typer.echo(mask_url(resolve_database_url(runtime(ctx).settings)))
