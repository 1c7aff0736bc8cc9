"""The docs stay true: generated parts are fresh, and every `forgea …` line names a real command and flags."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from forgea_cli.cli import reference
from forgea_cli.cli.app import app
from forgea_cli.db import er_diagram

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
STOP_TOKENS = {"|", ">", ">>", "&&", "||", ";", "#", "2>&1", "2>/dev/null"}


def test_cli_reference_is_fresh():
    assert (ROOT / "docs" / "cli-reference.md").read_text() == reference.render(), (
        "docs/cli-reference.md is stale: run `make docs`"
    )


def test_every_command_has_help_text():
    missing = [" ".join(path) for path, help_text, _ in reference.commands() if "\n  " not in help_text]
    assert missing == []


def test_schema_er_diagram_is_fresh():
    assert er_diagram.markdown_block() in (ROOT / "docs" / "schema.md").read_text(), (
        "the ER diagram in docs/schema.md is stale: run `make docs`"
    )


def _forgea_lines(text: str) -> list[str]:
    joined = text.replace("\\\n", " ")
    lines = []
    for line in joined.splitlines():
        stripped = line.strip().removeprefix("$ ")
        if stripped.startswith("forgea "):
            lines.append(stripped)
    lines += [span for span in re.findall(r"`(forgea [^`]+)`", joined)]
    return lines


def _tokens(line: str) -> list[str]:
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        words = line.split()
    tokens = []
    for word in words[1:]:
        if word in STOP_TOKENS or word.startswith("#"):
            break
        cleaned = word.strip("[](){}…,.")
        if cleaned and cleaned not in {"/", "...", "…"}:
            tokens.append(cleaned)
    return tokens


def _resolve(line: str) -> str | None:
    """None when the line names a real command with real flags; otherwise what is wrong."""
    command = typer.main.get_command(app)
    context = command.make_context("forgea", [], resilient_parsing=True)
    tokens = _tokens(line)
    while tokens and hasattr(command, "get_command"):
        if tokens[0].startswith("-"):
            if tokens[0] not in _option_names(command, context):
                return f"unknown option {tokens[0]} of `{context.command_path}`"
            tokens.pop(0)
            continue
        child = command.get_command(context, tokens[0])
        if child is None:
            return f"unknown command {tokens[0]!r} under `{context.command_path}`"
        context = child.make_context(tokens.pop(0), [], parent=context, resilient_parsing=True)
        command = child
    names = _option_names(command, context)
    unknown = [t.split("=")[0] for t in tokens if t.startswith("-") and t.split("=")[0] not in names]
    return f"unknown option(s) {unknown} of `{context.command_path}`" if unknown else None


def _option_names(command, context) -> set[str]:
    names = set()
    for param in command.get_params(context):
        names.update(getattr(param, "opts", []))
        names.update(getattr(param, "secondary_opts", []))
    return names


DOC_LINES = [(path.name, line) for path in DOCS for line in _forgea_lines(path.read_text())]


def test_the_docs_mention_commands():
    assert len(DOC_LINES) > 20


@pytest.mark.parametrize(("doc", "line"), DOC_LINES, ids=[f"{d}:{i}" for i, (d, _) in enumerate(DOC_LINES)])
def test_forgea_lines_in_the_docs_are_real(doc, line):
    problem = _resolve(line)
    assert problem is None, f"{doc}: `{line}`: {problem}"
