"""`forgea webhook`: replay saved deliveries, redeliver failed ones through GitHub, list the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from forgea_cli.cli import output
from forgea_cli.cli.groups import command_group
from forgea_cli.cli.options import DryRun, Json, ListFormat
from forgea_cli.cli.runtime import runtime

app = command_group("webhook")

Files = Annotated[
    list[Path],
    typer.Argument(
        metavar="FILE",
        exists=True,
        dir_okay=False,
        readable=True,
        help="Saved deliveries: raw bodies as the web app received them, or GitHub delivery objects.",
        show_default=False,
    ),
]
Since = Annotated[
    str | None, typer.Option("--since", help="Only this recent, e.g. 30m, 24h, 3d.", show_default=False)
]


@app.command()
def replay(
    ctx: typer.Context,
    files: Files,
    event: Annotated[
        str | None, typer.Option("--event", help="X-GitHub-Event of a raw body (push, repository, ping…).")
    ] = None,
    delivery_id: Annotated[
        str | None,
        typer.Option("--delivery-id", help="X-GitHub-Delivery of a raw body: the ledger's key (one FILE)."),
    ] = None,
    signature: Annotated[
        str | None,
        typer.Option("--signature", help="X-Hub-Signature-256 of a raw body, sha256=… (one FILE)."),
    ] = None,
    secret_env: Annotated[
        str | None,
        typer.Option(
            "--secret-env",
            metavar="NAME",
            help="Check every signature with the webhook secret held in this environment variable; "
            "a missing or wrong one refuses the run (exit 4) before anything is written.",
        ),
    ] = None,
    dry_run: DryRun = False,
    json_output: Json = False,
) -> None:
    """Apply saved webhook deliveries, each at most once (the ledger is keyed by X-GitHub-Delivery).

    push: the session is found by repository id, then canonical URL (binding the id), then the
    legacy userForkUrl; then the web app's route: a LAB_VERIFY_ATTEMPT audit row and IN_PROGRESS/STUCK
    -> IN_PROGRESS with lastActivityAt (one LAB_STATUS_TRANSITION row, reason github_webhook_push).
    repository renamed/transferred: the mapping follows the repository id; deleted: NOT_FOUND.
    ping and other events: recorded only. A delivery already in the ledger changes nothing.
    A delivery object's payload is GitHub's parsed copy: its signature cannot be checked byte for
    byte, so --secret-env refuses it. Exit 4 when a delivery was refused by a conflict.
    """
    from forgea_cli.services.webhooks import ReplayRequest, replay_files

    rt = runtime(ctx)
    request = ReplayRequest(
        files=files,
        actor_id=rt.settings.actor,
        event=event,
        delivery_id=delivery_id,
        signature=signature,
        secret_env=secret_env,
        dry_run=dry_run,
        web_host=rt.settings.github_web_url,
    )
    report = replay_files(rt.uow, request)
    document = report.to_json()
    if json_output:
        output.emit_json(document)
    else:
        _render_replay(document)
    if report.failed:
        raise typer.Exit(4)


@app.command()
def redeliver(
    ctx: typer.Context,
    hook_id: Annotated[int, typer.Option("--hook-id", min=1, help="The webhook's id.", show_default=False)],
    org: Annotated[str | None, typer.Option("--org", help="An organization webhook of ORG.")] = None,
    repo: Annotated[
        str | None, typer.Option("--repo", metavar="OWNER/NAME", help="A repository webhook.")
    ] = None,
    since: Annotated[
        str, typer.Option("--since", help="Look this far back (GitHub keeps deliveries 3 days).")
    ] = "3d",
    pause: Annotated[
        float, typer.Option("--pause", min=0.0, max=60.0, help="Seconds between two redelivery requests.")
    ] = 1.0,
    dry_run: DryRun = False,
    json_output: Json = False,
) -> None:
    """Ask GitHub to redeliver each delivery of a hook with no successful attempt in the window.

    Lists the hook's deliveries (every page; rate limits are waited out), groups the attempts by
    delivery id, and redelivers the latest attempt of each delivery that never succeeded — except
    those `webhook replay` already applied (in the ledger: the web app would apply them twice).
    One request at a time, --pause apart, reported per delivery. --dry-run only lists. Exit 5 when
    GitHub refused a redelivery.
    """
    from forgea_cli.cli.session_cmd import parse_duration
    from forgea_cli.errors import InvalidInput
    from forgea_cli.github.factory import make_gateway
    from forgea_cli.github.gateway import HookTarget
    from forgea_cli.services.webhooks import MAX_RATE_LIMIT_WAIT_SECONDS, redeliver_failed

    if (org is None) == (repo is None):
        raise InvalidInput("give exactly one of --org ORG and --repo OWNER/NAME")
    if repo is not None and (repo.count("/") != 1 or not all(repo.split("/"))):
        raise InvalidInput(f"--repo wants OWNER/NAME, not {repo!r}")
    target = HookTarget("org", org) if org is not None else HookTarget("repo", str(repo))
    rt = runtime(ctx)
    with make_gateway(rt.settings, max_wait_seconds=MAX_RATE_LIMIT_WAIT_SECONDS) as gateway:
        report = redeliver_failed(
            rt.uow,
            gateway,
            target=target,
            hook_id=hook_id,
            since=parse_duration(since),
            dry_run=dry_run,
            pause_seconds=pause,
        )
    document = report.to_json()
    if json_output:
        output.emit_json(document)
    else:
        _render_redeliver(document, target.describe())
    if report.failed:
        raise typer.Exit(5)


@app.command()
def deliveries(
    ctx: typer.Context,
    since: Since = None,
    session: Annotated[
        str | None, typer.Option("--session", metavar="ID", help="Only deliveries that touched this session.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="At most this many rows.")] = 100,
    format: ListFormat = None,
    json_output: Json = False,
) -> None:
    """The ledger: deliveries forgea applied, newest first (what, where it landed, why not)."""
    from forgea_cli.cli.session_cmd import parse_duration
    from forgea_cli.services.webhooks import list_deliveries

    rows = list_deliveries(
        runtime(ctx).replica_uow,
        since=parse_duration(since) if since else None,
        session_id=session,
        limit=limit,
    )
    output.listing(
        output.listing_format(format, json_output),
        document=rows,
        title=output.plural(len(rows), "delivery", "deliveries"),
        columns=["applied at", "delivery", "event", "outcome", "session", "detail"],
        rows=[
            (
                r["appliedAt"],
                r["deliveryId"],
                f"{r['event']}.{r['action']}" if r["action"] else r["event"],
                r["outcome"],
                r["labSessionId"] or "-",
                r["detail"] or "",
            )
            for r in rows
        ],
    )


# -- rendering ------------------------------------------------------------------------------------------


def _render_replay(document: dict[str, Any]) -> None:
    for item in document["deliveries"]:
        what = f"{item['event']}.{item['action']}" if item["action"] else item["event"]
        head = f"{item['file']}: delivery {item['deliveryId']} ({what}, {item['form']}"
        head += f", signature {item['signature']})"
        if item["error"]:
            output.show(f"{head}: refused: {item['error']}")
            continue
        state = "duplicate, " if item["duplicate"] else ""
        output.show(f"{head}: {state}{item['outcome']} — {item['detail']}")
        if item["mapping"]:
            output.show(f"  mapping {item['mapping']['id']}: {item['mapping']['change']}")
        for note in item["notes"]:
            output.show(f"  note: {note}")
    summary = (
        f"applied {document['applied']} · duplicates {document['duplicates']} · failed {document['failed']}"
    )
    output.show(summary)
    if document["dryRun"]:
        output.say("dry run: everything was rolled back, nothing written")


def _render_redeliver(document: dict[str, Any], target: str) -> None:
    output.show(
        f"hook {document['hookId']} of {target}: {document['attemptsListed']} attempts of "
        f"{document['deliveries']} deliveries since {document['since']}"
    )
    output.show(
        f"  succeeded {document['succeeded']} · already replayed (ledger) {document['inLedger']} · "
        f"redelivered {document['redelivered']} · would redeliver {document['wouldRedeliver']} · "
        f"failed {document['failed']}"
    )
    if document["groups"]:
        rows = [
            (
                g["guid"],
                f"{g['event']}.{g['action']}" if g["action"] else g["event"],
                g["attempts"],
                f"{g['latestStatusCode']} {g['latestStatus']}",
                g["latestAttemptId"],
                g["verdict"] + (f": {g['error']}" if g["error"] else ""),
            )
            for g in document["groups"]
        ]
        output.table(
            "deliveries without a successful attempt",
            ["delivery", "event", "attempts", "latest", "attempt id", "verdict"],
            rows,
        )
    for note in document["notes"]:
        output.say(f"note: {note}")
    if document["dryRun"]:
        output.say("dry run: nothing was redelivered")
