"""docs/cli-reference.md, generated from the commands' own --help.

Regenerate: python -m forgea_cli.cli.reference > docs/cli-reference.md   (or `make docs`)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import typer

WIDTH = 100
HEADER = """# forgea CLI reference

Generated from `--help` by `python -m forgea_cli.cli.reference` (`make docs`); a test fails when
this file is stale. Exit codes: 0 ok · 1 a check or the operation failed · 2 bad usage or input ·
3 not found · 4 conflict · 5 GitHub error · 6 database unreachable · 70 the tool itself failed ·
130 interrupted. With `--json` a failure is one document: `{"error": {"code", "exitCode", "message",
"hint"}}`.
"""


def walk(command, path: list[str], parent=None) -> Iterator[tuple[list[str], str, bool]]:
    """(command path, help text, is it a group) for the command and everything below it."""
    context = command.make_context(
        path[-1], [], parent=parent, resilient_parsing=True, terminal_width=WIDTH, max_content_width=WIDTH
    )
    children = command.list_commands(context) if hasattr(command, "list_commands") else []
    yield path, command.get_help(context), bool(children)
    for name in children:
        child = command.get_command(context, name)
        if child is not None and not child.hidden:
            yield from walk(child, [*path, name], context)


def commands() -> list[tuple[list[str], str, bool]]:
    from forgea_cli.cli.app import app

    return list(walk(typer.main.get_command(app), ["forgea"]))


def render() -> str:
    sections = [HEADER]
    for path, help_text, _ in commands():
        level = "#" * min(len(path) + 1, 4)
        sections.append(f"{level} `{' '.join(path)}`\n\n```text\n{help_text.rstrip()}\n```\n")
    return "\n".join(sections)


if __name__ == "__main__":
    sys.stdout.write(render())
