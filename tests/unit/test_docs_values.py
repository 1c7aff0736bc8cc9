"""The docs' `forgea …` lines give each option a value it takes (a choice among its choices, a
number where a number goes), as the command itself would convert it; test_docs checks that the
commands and flags exist."""

from __future__ import annotations

import pytest
import typer

from forgea_cli.cli.app import app
from tests.unit.test_docs import DOC_LINES, _tokens


def _value_problems(line: str) -> list[str]:
    command = typer.main.get_command(app)
    context = command.make_context("forgea", [], resilient_parsing=True)
    tokens = _tokens(line)
    problems = []
    while tokens:
        token = tokens.pop(0)
        if not token.startswith("-"):
            child = command.get_command(context, token) if hasattr(command, "get_command") else None
            if child is not None:
                context = child.make_context(token, [], parent=context, resilient_parsing=True)
                command = child
            continue
        name, _, inline = token.partition("=")
        option = next((p for p in command.get_params(context) if name in getattr(p, "opts", [])), None)
        if option is None or option.is_flag or option.count:
            continue
        value = inline or (tokens.pop(0) if tokens else "")
        if not value or value.isupper() or value in {"N", "…"} or "|" in value:
            continue  # a placeholder (KEY, LAB_ID, N) or a synopsis (error|warn)
        try:
            option.process_value(context, [value] if option.multiple else value)
        except typer.BadParameter as exc:
            if "does not exist" not in exc.message:  # files are the reader's, not the docs'
                problems.append(f"{name} {value!r}: {exc.message}")
    return problems


@pytest.mark.parametrize(("doc", "line"), DOC_LINES, ids=[f"{d}:{i}" for i, (d, _) in enumerate(DOC_LINES)])
def test_option_values_in_the_docs_are_accepted(doc, line):
    assert _value_problems(line) == [], f"{doc}: `{line}`"


def test_the_runbook_recommends_no_flag_a_command_ignores():
    """`--pause` is a keyset-backfill flag: `mapping backfill` has none, and `backfill repo-mappings`
    (the same backfill) does not honour it; the runbook points at the throttle flags instead."""
    from tests.unit.test_docs import ROOT

    runbook = (ROOT / "docs" / "runbook.md").read_text()
    assert "--pause" not in runbook
    assert "repo-mappings --report-csv" not in runbook
