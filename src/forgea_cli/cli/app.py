"""The `forgea` root command: global options, the command groups, and error reporting."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from typer.core import TyperGroup

from forgea_cli import __version__
from forgea_cli.cli.groups import COMMANDS, GROUPS, load_command, load_group
from forgea_cli.cli.runtime import Runtime


class ForgeaGroup(TyperGroup):
    """Loads command groups on first use, and turns every error raised below the root into a
    one-line message and its exit code."""

    def list_commands(self, ctx) -> list[str]:
        return [*GROUPS, *COMMANDS, *super().list_commands(ctx)]

    def get_command(self, ctx, name: str):
        if name in GROUPS:
            if name not in self.commands:
                self.commands[name] = load_group(name)
            return self.commands[name]
        if name in COMMANDS:
            if name not in self.commands:
                self.commands[name] = load_command(name)
            return self.commands[name]
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter) -> None:
        rows = [(name, spec.help) for name, spec in (*GROUPS.items(), *COMMANDS.items())]
        for name in super().list_commands(ctx):
            command = super().get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_params(self, ctx):
        # Typer's completion flags (--install-completion, --show-completion) default to None as well:
        # False instead, for the reason get_help_option gives below.
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False) and param.default is None:
                param.default = False
        return params

    def get_help_option(self, ctx):
        # Typer leaves the root --help flag's default at None when absent, and coercing None loads
        # pydantic (~100 ms) before every subcommand's --help; a False default skips that.
        option = super().get_help_option(ctx)
        if option is not None and option.default is None:
            option.default = False
        return option

    def invoke(self, ctx):
        raw_args = [*getattr(ctx, "_protected_args", ()), *ctx.args]  # before the subcommand parses them
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
            from forgea_cli.cli.errors import report, report_usage_error  # only when something failed

            if type(exc).__module__.startswith(("click", "typer")):
                if _json(ctx) or _asks_json(raw_args):
                    report_usage_error(exc)
                raise
            raise typer.Exit(report(exc, debug=_debug(ctx), json=_json(ctx))) from None
        except KeyboardInterrupt as exc:
            from forgea_cli.cli.errors import report

            raise typer.Exit(report(exc, debug=_debug(ctx), json=_json(ctx))) from None


def _debug(ctx) -> bool:
    from forgea_cli.cli.errors import debug_enabled

    runtime = ctx.find_root().obj
    return debug_enabled(bool(getattr(runtime, "debug", False)))


def _json(ctx) -> bool:
    """--json (or --format json) was given to the command that failed (cli.output.request_json)."""
    return bool(getattr(ctx.find_root().obj, "json_output", False))


def _asks_json(args: list[str]) -> bool:
    """For a usage error raised before --json was parsed: is it among the raw arguments?"""
    pairs = zip(args, [*args[1:], ""], strict=True)
    return (
        "--json" in args or "--format=json" in args or any(a == "--format" and b == "json" for a, b in pairs)
    )


app = typer.Typer(
    cls=ForgeaGroup,
    name="forgea",
    help="Operate Forgea's lab-session binding: schema revision, backfills, sessions, checks.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion; groups still load on first use
    rich_markup_mode=None,  # plain help: fast to render (no rich/markdown import) and stable for the docs
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)
# `demo` and `verify-constraints` are commands of the root, loaded on first use (groups.COMMANDS).


def _version(value: bool) -> None:
    if value:
        typer.echo(f"forgea {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="No messages on stderr; results (stdout) and errors still print."),
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Only stores raw options: this runs for `--help` of every subcommand too."""
    runtime = Runtime(debug=debug, quiet=quiet)
    ctx.obj = runtime
    ctx.call_on_close(runtime.close)


def main() -> None:
    app()
