"""The command groups: their help text, and where their commands live (imported only when used).

`forgea --help` lists the groups from this table without importing them; `forgea <group> …`
imports just that group's modules. Each group module builds its Typer with `command_group(name)`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import typer


@dataclass(frozen=True)
class GroupSpec:
    help: str
    modules: tuple[str, ...]  # the first defines `app`; the others add commands to it


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
    "schema": GroupSpec(
        "The Prisma hand-off for the web app: models, prisma.config, what Prisma cannot express.",
        ("forgea_cli.cli.schema_cmd",),
    ),
}


def command_group(name: str) -> typer.Typer:
    # Plain help (rich_markup_mode=None): no rich/markdown import on --help, and stable text for the docs.
    return typer.Typer(help=GROUPS[name].help, no_args_is_help=True, rich_markup_mode=None)


def load_group(name: str):
    """The click group for `name`, importing its modules now."""
    spec = GROUPS[name]
    modules = [importlib.import_module(module) for module in spec.modules]
    group = typer.main.get_group(modules[0].app)
    group.name = name
    return group
