"""Rendering: JSON documents on stdout, messages and progress on stderr, tables for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import typer


def _console(stderr: bool):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str, sort_keys=False) + "\n")


def say(message: str) -> None:
    """A message for the person at the terminal (stderr, so stdout stays parseable)."""
    _console(stderr=True).print(message)


def show(message: str) -> None:
    _console(stderr=False).print(message)


def warn(message: str) -> None:
    _console(stderr=True).print(f"[yellow]warning:[/yellow] {message}")


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    from rich.table import Table

    grid = Table(title=title, title_justify="left")
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*("" if v is None else str(v) for v in row))
    _console(stderr=False).print(grid)


def confirm_or_abort(question: str, *, yes: bool) -> None:
    """Destructive commands ask on a terminal; elsewhere they need --yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        from forgea_cli.errors import InvalidInput

        raise InvalidInput(f"{question} — refusing without --yes (stdin is not a terminal)")
    if not typer.confirm(question, default=False, err=True):
        raise typer.Exit(1)
