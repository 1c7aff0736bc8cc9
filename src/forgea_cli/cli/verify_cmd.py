"""`forgea verify-constraints`: catalog, behaviour probes, data invariants, migrations."""

from __future__ import annotations

import json as jsonlib
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from forgea_cli.cli import output
from forgea_cli.cli.options import Json
from forgea_cli.cli.runtime import runtime


class Group(StrEnum):
    migrations = "migrations"
    catalog = "catalog"
    probes = "probes"
    data = "data"


class FailOn(StrEnum):
    error = "error"
    warn = "warn"


STYLE = {"fail": "bold red", "warn": "yellow", "skip": "dim", "pass": "green", "info": "cyan"}
LABEL = {"fail": "FAIL", "warn": "WARN", "skip": "SKIP", "pass": "ok", "info": "info"}
QUIET = ("pass", "info")  # listed only with --verbose


def verify_constraints(
    ctx: typer.Context,
    json: Json = False,
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit", dir_okay=False, metavar="FILE", help="Also write a JUnit XML report to FILE."
        ),
    ] = None,
    no_probes: Annotated[
        bool, typer.Option("--no-probes", help="Skip the behaviour probes (for a read-only replica).")
    ] = False,
    only: Annotated[
        list[Group] | None,
        typer.Option(
            "--only",
            metavar="GROUP",
            help="Run only this group (repeatable): migrations, catalog, probes, data.",
        ),
    ] = None,
    fail_on: Annotated[
        FailOn,
        typer.Option("--fail-on", help="Lowest level that fails the run: error, or warn (coverage too)."),
    ] = FailOn.error,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List the passing checks too.")] = False,
) -> None:
    """Check the live database against this build: catalog, behaviour probes, data, migrations.

    Exit 0 when everything holds, 1 when a check fails, 6 when the database is unreachable, 70 when
    the tool itself fails (never a check).

    The probes write only inside one transaction that is always rolled back.
    """
    from forgea_cli.services import verify

    state = runtime(ctx)
    options = verify.VerifyOptions(
        groups=tuple(g.value for g in only) if only else verify.VerifyOptions.groups,
        probes=not no_probes,
        fail_on=fail_on.value,
        web_url=state.settings.github_web_url,
    )
    options.selected()  # bad combinations fail before the database is touched
    if junit is not None and not junit.parent.is_dir():
        raise typer.BadParameter(f"folder {junit.parent} does not exist", param_hint="--junit")
    report = verify.verify_constraints(
        state.uow, options, replica=state.replica_uow if state.has_replica else None
    )
    if junit is not None:
        junit.write_text(verify.junit_xml(report.by_group(), report.seconds), encoding="utf-8")
    if json:
        output.emit_json(report)
    elif _stdout_is_terminal():
        _rich_tables(report, verbose)
    else:
        _plain_lines(report, verbose)
    if junit is not None:
        typer.echo(f"JUnit report written to {junit}", err=True)  # not Rich: a long path must not wrap
    raise typer.Exit(report.exit_code)


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _summary(counts: dict[str, int]) -> str:
    parts = [
        f"{counts[s]} {word}"
        for s, word in (
            ("fail", "failed"),
            ("warn", "warnings"),
            ("skip", "skipped"),
            ("pass", "passed"),
            ("info", "the web app's (not checked)"),
        )
        if counts.get(s)
    ]
    return ", ".join(parts) or "no checks"


def _compact(value: Any, limit: int = 400) -> str:
    text = value if isinstance(value, str) else jsonlib.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _expected_found(result, limit: int = 400) -> tuple[str, str]:
    """For people: of two mappings only the entries that differ (--json has them whole)."""
    expected, found = result.expected, result.found
    if isinstance(expected, dict) and isinstance(found, dict):
        keys = [k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k)] or list(
            expected
        )
        expected = {k: expected.get(k) for k in sorted(keys)}
        found = {k: found.get(k) for k in sorted(keys)}
    return _compact(expected, limit), _compact(found, limit)


def _plain_lines(report, verbose: bool) -> None:
    lines = []
    for group, results in report.by_group().items():
        lines.append(f"== {group}: {_summary(report.counts(results))}")
        for result in results:
            status = str(result.status)
            if status in QUIET and not verbose:
                continue
            lines.append(f"{LABEL[status]:<4}  {result.id}  {result.message}")
            if status in ("fail", "warn"):
                expected, found = _expected_found(result)
                lines.append(f"      expected: {expected}")
                lines.append(f"      found:    {found}")
            if result.hint and status not in QUIET:
                lines.append(f"      hint:     {result.hint}")
            if result.diff and (verbose or status == "fail"):
                lines.extend(f"      {line}" for line in result.diff.splitlines())
    lines.append(f"verify-constraints: {_summary(report.counts())} (revision {report.revisions.current})")
    typer.echo("\n".join(lines))


def _rich_tables(report, verbose: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    for group, results in report.by_group().items():
        grid = Table(title=f"{group} — {_summary(report.counts(results))}", title_justify="left", expand=True)
        grid.add_column("", no_wrap=True)
        shown = [r.id for r in results if verbose or str(r.status) not in QUIET]
        grid.add_column("check", overflow="fold", min_width=min(48, max(map(len, shown), default=10)))
        grid.add_column("what was found", overflow="fold", ratio=1)
        hidden = {"pass": 0, "info": 0}
        for result in results:
            status = str(result.status)
            if status in QUIET and not verbose:
                hidden[status] += 1
                continue
            detail = _escape(result.message)
            if status in ("fail", "warn"):
                expected, found = _expected_found(result, limit=300)
                detail += f"\n[dim]expected[/dim] {_escape(expected)}"
                detail += f"\n[dim]found[/dim]    {_escape(found)}"
            if result.hint and status not in QUIET:
                detail += f"\n[dim]hint[/dim]     {_escape(result.hint)}"
            if result.diff and (verbose or status == "fail"):
                detail += "\n" + _escape(result.diff)
            grid.add_row(f"[{STYLE[status]}]{LABEL[status]}[/]", _escape(result.id), detail)
        if hidden["pass"]:
            grid.add_row(
                f"[{STYLE['pass']}]ok[/]", f"{hidden['pass']} more checks", "passed (--verbose lists them)"
            )
        if hidden["info"]:
            grid.add_row(
                f"[{STYLE['info']}]info[/]",
                f"{hidden['info']} objects",
                "the web app's: reported, not checked (--verbose lists them)",
            )
        console.print(grid)
    console.print(f"verify-constraints: {_summary(report.counts())} (revision {report.revisions.current})")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
