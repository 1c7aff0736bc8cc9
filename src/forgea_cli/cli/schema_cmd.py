"""`forgea schema`: what the web app's Prisma schema needs to know about forgea's revision."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from forgea_cli.cli.groups import command_group
from forgea_cli.cli.options import Json
from forgea_cli.cli.output import emit_json, warn
from forgea_cli.cli.runtime import runtime

app = command_group("schema")

Output = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        dir_okay=False,
        metavar="FILE",
        help="Write the fragment (with --merge: the merged schema) to FILE instead of stdout.",
    ),
]
Merge = Annotated[
    Path | None,
    typer.Option(
        "--merge",
        exists=True,
        dir_okay=False,
        readable=True,
        metavar="SCHEMA_FILE",
        help="Print the web app's schema.prisma with forgea's models and fields merged in "
        "(SCHEMA_FILE itself is not changed).",
    ),
]


@app.callback()
def schema() -> None:
    pass


@app.command()
def prisma(ctx: typer.Context, json_output: Json = False, output: Output = None, merge: Merge = None) -> None:
    """Print the Prisma hand-off for the connected database, read-only from its live catalog.

    \b
    1. fragment: forgea's enums and models (append them to schema.prisma), and the
       fields, relations and indexes to ADD to the web app's own models;
    2. prisma.config.ts (Prisma 7): forgea's tables and enums externally managed;
    3. what Prisma cannot express (triggers, partial indexes, CHECKs, functions, the
       composite foreign key's guarantee): the web app leaves these alone.

    A database not at forgea's head revision is described as it is, with a warning
    on stderr and in the JSON (exit 0). Adoption: docs/prisma.md. Never run
    `prisma migrate dev` against a shared database.
    """
    _prisma(ctx, json_output=json_output, output=output, merge=merge)  # errors: cli.errors, one document


def _prisma(ctx: typer.Context, *, json_output: bool, output: Path | None, merge: Path | None) -> None:
    from forgea_cli.services import schema as prisma_schema

    merged_source = merge.read_text(encoding="utf-8") if merge is not None else None
    if output is not None and not output.parent.is_dir():
        raise typer.BadParameter(f"folder {output.parent} does not exist", param_hint="--output")
    handoff = prisma_schema.prisma_handoff(runtime(ctx).uow)
    merged = (
        prisma_schema.merge_into_schema(merged_source, handoff, source=str(merge))
        if merged_source is not None
        else None
    )
    for message in handoff.warnings:
        warn(message)
    if output is not None:
        output.write_text(merged if merged is not None else handoff.fragment, encoding="utf-8")
        what = "the merged schema" if merged is not None else "the fragment"
        typer.echo(f"wrote {what} to {output}", err=True)
    if json_output:
        emit_json(handoff.as_document(merged))
    elif merged is not None:
        if output is None:
            sys.stdout.write(merged)
    else:
        sys.stdout.write(_text(handoff, fragment_shown=output is None))


def _text(handoff, *, fragment_shown: bool) -> str:
    """Plain text (never Rich markup: Prisma's [brackets] must survive), one section per product."""
    from forgea_cli.services.schema import additions_block

    rule = "// " + "=" * 97
    parts = []
    if fragment_shown:
        parts += [
            rule,
            "// 1. Prisma fragment: append to the web app's schema.prisma",
            rule,
            handoff.fragment,
        ]
    if handoff.additions:
        parts += [
            rule,
            "// 1b. ADD to the web app's existing models (the same lines as the commented block above)",
            rule,
            additions_block(handoff.additions) + "\n",
        ]
    parts += [
        rule,
        "// 2. prisma.config.ts (Prisma 7): forgea's tables and enums are externally managed",
        rule,
        handoff.config,
    ]
    parts += [rule, "// 3. What Prisma cannot express: leave these to forgea's migrations", rule]
    for entry in handoff.not_expressible:
        where = f" on {entry['table']}" if entry.get("table") else ""
        parts.append(f"// - {entry['kind']} {entry['name']}{where}: {entry['does']}")
        parts.append(f"//     {entry['definition']}")
    return "\n".join(parts) + "\n"
