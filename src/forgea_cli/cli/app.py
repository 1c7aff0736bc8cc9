"""The `forgea` root command: global options, the command groups, and error reporting."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from typer.core import TyperGroup

from forgea_cli import __version__
from forgea_cli.cli import (
    backfill_cmd,
    db_cmd,
    demo_cmd,
    keys_cmd,
    lifecycle_cmd,
    mapping_cmd,
    migrate_cmd,
    repo_cmd,
    session_cmd,
    session_create_cmd,  # noqa: F401  (registers `session create` on the session group)
    verify_cmd,
)
from forgea_cli.cli.errors import debug_enabled, report
from forgea_cli.cli.runtime import Runtime


class ForgeaGroup(TyperGroup):
    """Turns every error raised below the root into a one-line message and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except BrokenPipeError:
            # `forgea … | head`: the reader left; stop quietly instead of reporting an error.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(0) from None
        except Exception as exc:
            if type(exc).__module__.startswith(("click", "typer")):
                raise
            raise typer.Exit(report(exc, debug=_debug(ctx))) from None
        except KeyboardInterrupt as exc:
            raise typer.Exit(report(exc, debug=_debug(ctx))) from None


def _debug(ctx) -> bool:
    runtime = ctx.find_root().obj
    return debug_enabled(bool(getattr(runtime, "debug", False)))


app = typer.Typer(
    cls=ForgeaGroup,
    name="forgea",
    help="Operate Forgea's lab-session binding: schema revision, backfills, sessions, checks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(db_cmd.app, name="db")
app.add_typer(migrate_cmd.app, name="migrate")
app.add_typer(backfill_cmd.app, name="backfill")
app.add_typer(mapping_cmd.app, name="mapping")
app.add_typer(session_cmd.app, name="session")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(repo_cmd.app, name="repo")
app.add_typer(lifecycle_cmd.app, name="lifecycle")
app.command(name="demo")(demo_cmd.demo)
app.command(name="verify-constraints")(verify_cmd.verify_constraints)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"forgea {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Only stores raw options: this runs for `--help` of every subcommand too."""
    runtime = Runtime(debug=debug)
    ctx.obj = runtime
    ctx.call_on_close(runtime.close)


def main() -> None:
    app()
