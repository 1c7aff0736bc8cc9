"""The one output contract: what goes where, and how it is escaped, redacted and rendered.

- stdout carries a command's answer: its JSON document, table, summary, SQL or URL — what it found
  or did. stderr carries the conversation: progress, pauses and retries, warnings, hints, prompts,
  notes about the run ("dry run: nothing written"). A script reads stdout; a person reads both.
- ``emit_json`` is the only JSON renderer (``forgea_cli.documents``: camelCase keys, ISO 8601
  timestamps with offset); with ``--json`` (or ``--format json``) a failure is one JSON document
  too (``error_document``, printed by ``cli.errors.report``).
- Every message and table cell is escaped for Rich markup here (``[bold]`` in a title is text, a
  key ``k[/x]y`` does not crash); styling is a ``style=`` argument, never markup in the text.
- Every string shown — messages, cells, JSON — has the credentials in its URLs redacted here
  (``forgea_cli.redaction.redact_credentials``).
- Listings take ``--format table|plain|csv|json`` (``listing``): plain and csv never cut a value;
  tables fold long values instead of cutting them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

import typer

from forgea_cli.redaction import redact_credentials

# json, csv and forgea_cli.documents are imported where they are used: every command's --help loads
# this module and needs none of them (bench/startup.py).


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """The one plural helper (``forgea_cli.documents.plural``: pure, services use it too)."""
    from forgea_cli.documents import plural as plural_of

    return plural_of(count, singular, plural_form)


class Format(StrEnum):
    table = "table"
    plain = "plain"
    csv = "csv"
    json = "json"


def _console(stderr: bool):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def _escaped(text: Any) -> str:
    from rich.markup import escape

    return escape(redact_credentials("" if text is None else str(text)))


# -- JSON -----------------------------------------------------------------------------------------------


def json_text(document: Any) -> str:
    import json

    from forgea_cli.documents import jsonable

    return json.dumps(jsonable(document, text=redact_credentials), indent=2) + "\n"


def emit_json(document: Any) -> None:
    """One JSON document on stdout: a result's ``to_json()``, a list of them, or plain data."""
    sys.stdout.write(json_text(document))
    sys.stdout.flush()


def json_requested(ctx: typer.Context | None = None) -> bool:
    """Did this invocation ask for JSON (``--json`` or ``--format json``)? Then errors are JSON too."""
    ctx = ctx or _current_context()
    root = ctx.find_root() if ctx is not None else None
    return bool(getattr(getattr(root, "obj", None), "json_output", False))


def _current_context():
    from typer._click.globals import get_current_context  # the vendored Click (never `import click`)

    return get_current_context(silent=True)


def request_json(ctx: typer.Context, value: Any) -> Any:
    """Option callback of ``--json`` and ``--format``: remember that the answer, and any error, is JSON."""
    if value is True or value == Format.json:
        root = ctx.find_root()
        if root.obj is not None:
            root.obj.json_output = True
    return value


# -- messages -------------------------------------------------------------------------------------------


def quiet_requested() -> bool:
    """``forgea --quiet``: messages (``say``, ``warn``) are not printed; answers and errors are."""
    ctx = _current_context()
    root = ctx.find_root() if ctx is not None else None
    return bool(getattr(getattr(root, "obj", None), "quiet", False))


def say(message: str, *, style: str | None = None) -> None:
    """A message for the person at the terminal (stderr, so stdout stays parseable)."""
    if quiet_requested():
        return
    _console(stderr=True).print(_escaped(message), style=style, soft_wrap=True)


def show(message: str, *, style: str | None = None) -> None:
    """Part of the command's answer (stdout)."""
    _console(stderr=False).print(_escaped(message), style=style, soft_wrap=True)


def warn(message: str) -> None:
    if quiet_requested():
        return
    _console(stderr=True).print(f"[yellow]warning:[/yellow] {_escaped(message)}", soft_wrap=True)


# -- tables and listings --------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A table for people (stdout). Long values fold onto the next line, never cut; a column of ids
    gets the width of its longest id (up to a UUID's) so ids stay on one line where they fit."""
    from rich.table import Table

    cells = [[_cell(v) for v in row] for row in rows]
    grid = Table(title=_escaped(title) if title else None, title_justify="left")
    for index, column in enumerate(columns):
        atoms = [row[index] for row in cells if index < len(row) and " " not in row[index]]
        widest = max((len(a) for a in atoms), default=0)
        grid.add_column(_escaped(column), overflow="fold", min_width=min(max(widest, len(column)), 36))
    for row in cells:
        grid.add_row(*(_escaped(v) for v in row))
    _console(stderr=False).print(grid)


def delimited(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, kind: Format) -> None:
    """``csv``: RFC 4180 with a header row. ``plain``: one line per row, tab-separated, no header
    (for `cut -f1`, `while read`). Neither ever shortens a value; tabs and newlines inside a plain
    value become spaces."""
    if kind is Format.csv:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([redact_credentials(_cell(v)) for v in row] for row in rows)
        return
    for row in rows:
        fields = (redact_credentials(_cell(v)).replace("\t", " ").replace("\n", " ") for v in row)
        sys.stdout.write("\t".join(fields) + "\n")


def listing(
    kind: Format,
    *,
    document: Any,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    title: str | None = None,
    empty: str | None = None,
) -> None:
    """Render a listing in the format asked for: the JSON ``document``, or ``rows`` under ``columns``.
    ``empty`` is said on stderr when there are no rows (table format only: the others stay parseable)."""
    if kind is Format.json:
        emit_json(document)
    elif kind in (Format.csv, Format.plain):
        delimited(columns, rows, kind=kind)
    else:
        table(title, columns, rows)
        if not rows and empty:
            say(empty)


def listing_format(format_option: Format | None, json_flag: bool) -> Format:
    """``--json`` is a synonym of ``--format json``; both given and disagreeing is bad usage."""
    if json_flag and format_option not in (None, Format.json):
        raise typer.BadParameter(f"--json contradicts --format {format_option}", param_hint="--json")
    return Format.json if json_flag else (format_option or Format.table)


# -- questions ------------------------------------------------------------------------------------------


def confirm_or_abort(question: str, *, yes: bool) -> None:
    """Destructive commands ask on a terminal; elsewhere they need --yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        from forgea_cli.errors import InvalidInput

        raise InvalidInput(f"{question} — refusing without --yes (stdin is not a terminal)")
    if not typer.confirm(redact_credentials(question), default=False, err=True):
        raise typer.Exit(1)
