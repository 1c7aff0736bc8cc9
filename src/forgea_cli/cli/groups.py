"""The command groups: their help text, and where their commands live (imported only when used).

`forgea --help` lists the groups from this table without importing them; `forgea <group> …`
imports just that group's modules. Each group module builds its Typer with `command_group(name)`.
"""

from __future__ import annotations

import importlib
import inspect

import typer
from typer.core import TyperCommand, TyperGroup


class GroupSpec:
    """A group's help, and its modules: the first defines `app`; the others add commands to it.
    (Plain classes here, not dataclasses: this module loads on every start, a dataclass costs ~1 ms.)"""

    __slots__ = ("help", "modules")

    def __init__(self, help: str, modules: tuple[str, ...]) -> None:
        self.help, self.modules = help, modules


GROUPS: dict[str, GroupSpec] = {
    "db": GroupSpec(
        "Manage the embedded PostgreSQL (used when FORGEA_DATABASE_URL is unset).", ("forgea_cli.cli.db_cmd",)
    ),
    "migrate": GroupSpec(
        "Inspect and change the schema revision (Alembic), adopt a Prisma database.",
        ("forgea_cli.cli.migrate_cmd",),
    ),
    "backfill": GroupSpec(
        "Batched, resumable, idempotent backfills of the F6 rollout.", ("forgea_cli.cli.backfill_cmd",)
    ),
    "mapping": GroupSpec(
        "GitHub repo mapping: canonicalize, backfill, resolve ids, look up.", ("forgea_cli.cli.mapping_cmd",)
    ),
    "session": GroupSpec(
        "Create, inspect and transition lab sessions.",
        ("forgea_cli.cli.session_cmd", "forgea_cli.cli.session_create_cmd"),
    ),
    "keys": GroupSpec(
        "Idempotency keys of session creation: list, resume, abandon.", ("forgea_cli.cli.keys_cmd",)
    ),
    "repo": GroupSpec("Repositories in the GitHub org vs sessions.", ("forgea_cli.cli.repo_cmd",)),
    "lifecycle": GroupSpec(
        "The LabSession lifecycle (the single source of truth).", ("forgea_cli.cli.lifecycle_cmd",)
    ),
    "webhook": GroupSpec(
        "GitHub webhook deliveries: replay saved ones, redeliver failed ones, list the ledger.",
        ("forgea_cli.cli.webhook_cmd",),
    ),
    "rollout": GroupSpec(
        "Where the rollout stands: the runbook as a checklist, each step done or the command to run.",
        ("forgea_cli.cli.rollout_cmd",),
    ),
    "lab": GroupSpec(
        "Labs: their ids (what session create --lab takes), titles, current versions.",
        ("forgea_cli.cli.lab_cmd",),
    ),
    "schema": GroupSpec(
        "The Prisma hand-off for the web app: models, prisma.config, what Prisma cannot express.",
        ("forgea_cli.cli.schema_cmd",),
    ),
}


class CommandSpec:
    """A root command: what `forgea --help` lists (the first line of its docstring), where it lives."""

    __slots__ = ("function", "help", "module")

    def __init__(self, help: str, module: str, function: str) -> None:
        self.help, self.module, self.function = help, module, function


# Commands of the root itself, imported (like the groups) only when they run or show their help.
COMMANDS: dict[str, CommandSpec] = {
    "demo": CommandSpec(
        "Walk the rollout runbook on a small legacy database in the embedded PostgreSQL (no network).",
        "forgea_cli.cli.demo_cmd",
        "demo",
    ),
    "verify-constraints": CommandSpec(
        "Check the live database against this build: catalog, behaviour probes, data, migrations.",
        "forgea_cli.cli.verify_cmd",
        "verify_constraints",
    ),
}


def command_group(name: str) -> typer.Typer:
    # Plain help (rich_markup_mode=None): no rich/markdown import on --help, and stable text for the docs.
    return typer.Typer(help=GROUPS[name].help, no_args_is_help=True, rich_markup_mode=None)


def load_group(name: str):
    """The click group for `name`, importing its modules now; its commands are converted from
    Typer's on first use (`LazyGroup`)."""
    spec = GROUPS[name]
    modules = [importlib.import_module(module) for module in spec.modules]
    app = modules[0].app
    pending, app.registered_commands = app.registered_commands, []
    try:
        group = typer.main.get_group(app)  # the group itself: its help, options and callback
    finally:
        app.registered_commands = pending
    group.__class__ = LazyGroup
    group.adopt(pending, app)
    group.name = name
    return group


class LazyGroup(TyperGroup):
    """A group whose commands Typer converts (signatures, annotations, every option) only when one
    is used: `forgea session --help` lists them from their names and docstrings alone."""

    def adopt(self, infos: list, app: typer.Typer) -> None:
        self._pending = {
            info.name or typer.main.get_command_name(info.callback.__name__): info for info in infos
        }
        self._app = app

    def list_commands(self, ctx) -> list[str]:
        return [*self._pending, *(name for name in self.commands if name not in self._pending)]

    def get_command(self, ctx, name: str):
        info = self._pending.get(name)
        if info is not None and name not in self.commands:
            self.commands[name] = typer.main.get_command_from_info(
                info,
                pretty_exceptions_short=self._app.pretty_exceptions_short,
                rich_markup_mode=self._app.rich_markup_mode,
            )
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter) -> None:
        """As Click lists them (the same short help), without converting the commands."""
        listed = []
        for name in self.list_commands(ctx):
            info = self._pending.get(name)
            if info is None or name in self.commands:
                command = self.get_command(ctx, name)
            else:
                command = TyperCommand(
                    name,
                    help=info.help or inspect.getdoc(info.callback),
                    short_help=info.short_help,
                    hidden=info.hidden,
                    deprecated=info.deprecated,
                )
            if command is not None and not command.hidden:
                listed.append((name, command))
        if listed:
            limit = formatter.width - 6 - max(len(name) for name, _ in listed)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in listed])


def load_command(name: str):
    """The click command for the root command `name`, importing its module now."""
    spec = COMMANDS[name]
    single = typer.Typer(rich_markup_mode=None, add_completion=False)
    single.command(name=name)(getattr(importlib.import_module(spec.module), spec.function))
    command = typer.main.get_command(single)
    command.name = name
    return command
