"""`forgea session`: show, list and transition lab sessions (create lives in session_create_cmd)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

import typer

from forgea_cli.cli import output
from forgea_cli.cli.groups import command_group
from forgea_cli.cli.options import DryRun, Json, ListFormat
from forgea_cli.cli.output import plural
from forgea_cli.cli.runtime import runtime
from forgea_cli.documents import iso

app = command_group("session")

STATUS_HELP = "IN_PROGRESS, STUCK, VERIFIED_PASS or DEFERRED"
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.lower())
    if not match:
        raise typer.BadParameter(f"{text!r} is not a duration like 30m, 12h, 7d or 2w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _status(text: str):
    from forgea_cli.lifecycle import parse_status

    return parse_status(text)


@app.command()
def transition(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(metavar="ID", help="The session id.")],
    to: Annotated[str, typer.Option("--to", help=f"Target status: {STATUS_HELP}.")],
    expect: Annotated[
        list[str] | None,
        typer.Option("--expect", help="Refuse unless the session is in this status (repeatable)."),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why; stored in the audit row.")] = None,
    dry_run: DryRun = False,
    json: Json = False,
) -> None:
    """Change a status: one compare-and-set plus one audit row. --dry-run asks the database and rolls back."""
    from forgea_cli.services.sessions import TransitionRequest, parse_session_id, transition_session

    rt = runtime(ctx)
    request = TransitionRequest(
        session_id=parse_session_id(session_id),
        target=_status(to),
        actor_id=rt.settings.actor,
        expect=tuple(_status(s) for s in expect or ()),
        reason=reason,
        dry_run=dry_run,
    )
    result = transition_session(rt.uow, request)
    if json:
        output.emit_json(result)
    elif not result.changed:
        output.show(f"session {result.session_id} is already {result.to_status}; nothing changed")
    elif dry_run:
        output.show(
            f"dry run: the database accepts {result.from_status} -> {result.to_status} "
            f"for {result.session_id}; rolled back"
        )
    else:
        change = f"{result.from_status} -> {result.to_status}"
        output.show(f"session {result.session_id}: {change} (audit {result.audit_id})")


@app.command()
def show(
    ctx: typer.Context,
    session_id: Annotated[str | None, typer.Argument(metavar="[ID]", help="The session id.")] = None,
    repo_id: Annotated[int | None, typer.Option("--repo-id", help="GitHub repository id.")] = None,
    repo_url: Annotated[
        str | None, typer.Option("--repo-url", help="Any spelling of the repository URL.")
    ] = None,
    json: Json = False,
) -> None:
    """A session with its lab and version, repo mapping, verification attempts and audit timeline."""
    from forgea_cli.services import sessions

    rt = runtime(ctx)
    reports = rt.replica_uow  # read-only: the replica when FORGEA_REPLICA_URL is set
    found = sessions.find_session_id(
        reports,
        session_id=session_id,
        repo_id=repo_id,
        repo_url=repo_url,
        web_host=rt.settings.github_web_url,
    )
    view = sessions.show_session(reports, found)
    if json:
        output.emit_json(view)
        return
    _render_show(view)


def _render_show(view: dict) -> None:
    session = view["session"]
    output.show(f"session {session['id']}  {session['status']}", style="bold")
    for label, key in (
        ("student", "userId"),
        ("lab", "labTitle"),
        ("version", "version"),
        ("fork url", "userForkUrl"),
        ("started", "startedAt"),
        ("last activity", "lastActivityAt"),
        ("completed", "completedAt"),
    ):
        output.show(f"  {label:<14}{_text(session.get(key)) or '-'}")
    mapping = view["mapping"]
    if mapping:
        repo_id = mapping["providerRepoId"] or "-"
        output.show(f"  {'repo':<14}{mapping['canonicalUrl']} id={repo_id} ({mapping['resolution']})")
    else:
        output.show(f"  {'repo':<14}not mapped yet")
    nexts = ", ".join(f"{n['to']}: {n['outcome']}" for n in view["next"])
    output.show(f"  {'next':<14}{nexts}")
    if view["attempts"]:
        rows = [
            (a["attemptNumber"], a["result"], a["commitSha"], iso(a["createdAt"])) for a in view["attempts"]
        ]
        output.table("verification attempts", ["#", "result", "commit", "at"], rows)
    if view["audit"]:
        rows = [
            (iso(a["createdAt"]), a["action"], a["actorId"], _audit_summary(a["metadata"]))
            for a in view["audit"]
        ]
        output.table("audit timeline", ["at", "action", "actor", "details"], rows)
    if view.get("deliveries"):
        rows = [
            (
                iso(d["appliedAt"]),
                d["deliveryId"],
                d["event"],
                d["outcome"],
                d["commitSha"] or d["detail"] or "",
            )
            for d in view["deliveries"]
        ]
        output.table("webhook deliveries", ["applied at", "delivery", "event", "outcome", "details"], rows)


def _text(value) -> str:
    """A value of a view as text: timestamps as the JSON has them (ISO 8601 with offset)."""
    return iso(value) if isinstance(value, datetime) else ("" if value is None else str(value))


def _audit_summary(metadata: dict | None) -> str:
    if not metadata:
        return ""
    if metadata.get("statusChanged"):
        change = f"{metadata.get('fromStatus')} -> {metadata.get('toStatus')}"
        return f"{change} {metadata.get('reason') or ''}".strip()
    return metadata.get("reason") or ""


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[list[str] | None, typer.Option("--status", help=f"{STATUS_HELP} (repeatable).")] = None,
    lab: Annotated[str | None, typer.Option("--lab", help="Lab id.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="User id or email.")] = None,
    idle_for: Annotated[
        str | None, typer.Option("--idle-for", help="No activity for at least this long, e.g. 7d, 12h.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="At most this many rows.")] = 50,
    format: ListFormat = None,
    json: Json = False,
) -> None:
    """Sessions matching the filters, most recently active first (most idle first with --idle-for)."""
    from forgea_cli.services import sessions

    rows = sessions.list_sessions(
        runtime(ctx).replica_uow,  # read-only: the replica when FORGEA_REPLICA_URL is set
        statuses=tuple(_status(s) for s in status or ()),
        lab_id=lab,
        user=user,
        idle_for=parse_duration(idle_for) if idle_for else None,
        limit=limit,
    )
    output.listing(
        output.listing_format(format, json),
        document=rows,
        title=plural(len(rows), "session"),
        columns=["id", "status", "student", "lab", "last activity"],
        rows=[(r["id"], r["status"], r["email"], r["labTitle"], iso(r["lastActivityAt"])) for r in rows],
    )
