"""`forgea mapping`: canonical repo URLs, the repo-mapping backfill, id resolution, the webhook lookup."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from forgea_cli.cli.groups import command_group
from forgea_cli.cli.options import BatchSize, DryRun, Json, throttle_flags
from forgea_cli.cli.output import emit_json, plural, say, show, table, warn
from forgea_cli.cli.runtime import runtime
from forgea_cli.documents import iso

app = command_group("mapping")

ReportCsv = Annotated[
    Path | None,
    typer.Option(
        "--report-csv",
        dir_okay=False,
        help="Write every DUPLICATE_URL, INVALID_URL and TEMPLATE_URL session to this CSV file "
        "(URLs masked).",
    ),
]


@app.command()
def canonicalize(
    ctx: typer.Context,
    urls: Annotated[list[str], typer.Argument(help="Repository URLs in any spelling.", show_default=False)],
    json_output: Json = False,
) -> None:
    """Print the canonical form of each URL, or why it is rejected (exit 2 if any is). No database."""
    from forgea_cli.services.mapping import canonicalize_urls

    records = canonicalize_urls(urls, runtime(ctx).settings.github_web_url)
    rejected = sum(1 for record in records if record["canonicalUrl"] is None)
    if json_output:
        emit_json({"results": records, "accepted": len(records) - rejected, "rejected": rejected})
    elif len(records) == 1 and not rejected:
        show(str(records[0]["canonicalUrl"]))
    else:
        table(None, ("input", "canonical URL / rejection"), ((str(r["input"]), _verdict(r)) for r in records))
    if rejected:
        raise typer.Exit(2)


@app.command()
@throttle_flags
def backfill(
    ctx: typer.Context,
    batch_size: BatchSize = 5000,
    dry_run: DryRun = False,
    json_output: Json = False,
    report_csv: ReportCsv = None,
    throttle=None,
) -> None:
    """Create a PENDING mapping (source BACKFILL) for every legacy session, from its userForkUrl.

    Same as `forgea backfill repo-mappings`. Several sessions with one canonical URL: the active one
    wins, then the most recent activity, then the smallest id; the others are reported as
    DUPLICATE_URL, invalid URLs as INVALID_URL, and sessions naming a lab's template repository
    (Lab.baseRepoUrl, LabVersion.templateRepoUrl) as TEMPLATE_URL. Nothing is guessed. Resumable
    and idempotent. The writes yield to the web app like every backfill: batches adapt to
    --batch-time, and it pauses on replica lag, active connections or waiters (the throttle flags).
    """
    from forgea_cli.cli.progress import for_terminal
    from forgea_cli.services.mapping import backfill_repo_mappings

    rt = runtime(ctx)
    report = backfill_repo_mappings(
        rt.uow,
        batch_size=batch_size,
        dry_run=dry_run,
        progress=for_terminal(),
        report_csv=report_csv,
        web_host=rt.settings.github_web_url,
        throttle=throttle,
        notify=lambda message: say(message),
    )
    if json_output:
        emit_json(report)
    else:
        render_backfill(report.to_json())


@app.command("resolve-ids")
def resolve_ids(
    ctx: typer.Context,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Look up at most this many PENDING mappings.")
    ] = None,
    dry_run: DryRun = False,
    json_output: Json = False,
) -> None:
    """Fill providerRepoId from GitHub (RESOLVED), or mark NOT_FOUND; 100 repositories per request.

    Rate limits are waited out, not failed on. An interrupted run keeps every finished page; a rerun
    continues with what is still PENDING. --dry-run asks GitHub but writes nothing.
    """
    from forgea_cli.cli.progress import for_terminal
    from forgea_cli.github.factory import make_gateway
    from forgea_cli.services.mapping import MAX_RATE_LIMIT_WAIT_SECONDS, resolve_repo_ids

    rt = runtime(ctx)
    with make_gateway(rt.settings, max_wait_seconds=MAX_RATE_LIMIT_WAIT_SECONDS) as gateway:
        report = resolve_repo_ids(rt.uow, gateway, limit=limit, dry_run=dry_run, progress=for_terminal())
    if json_output:
        emit_json(report)
    else:
        _render_resolve(report.to_json())


@app.command()
def lookup(
    ctx: typer.Context,
    repo_id: Annotated[int | None, typer.Option("--repo-id", min=1, help="GitHub repository.id.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Repository html_url (any spelling).")] = None,
    json_output: Json = False,
) -> None:
    """The webhook lookup, read-only: which session a pushed repository belongs to (exit 3 if none).

    Rules in order: 1 repository id; 2 canonical URL of a mapping (a webhook would bind its id there);
    3 canonical userForkUrl of an active session not yet backfilled. Give both options to replay a
    webhook exactly. A lab's template repository (by URL or LabVersion.templateRepoId) is reported as
    "template of lab X", never as a session (exit 3).
    """
    from forgea_cli.errors import InvalidInput, NotFound
    from forgea_cli.services.mapping import lookup_repo

    if repo_id is None and url is None:
        raise InvalidInput("give --repo-id N or --url URL (or both)")
    rt = runtime(ctx)
    result = lookup_repo(rt.replica_uow, repo_id=repo_id, html_url=url, web_host=rt.settings.github_web_url)
    document = result.to_json()
    if result.matched:
        if json_output:
            emit_json(document)
        else:
            _render_lookup(document)
        return
    if result.template is not None:
        if not json_output:
            _render_template(document)
        missing = NotFound(
            f"no session matches {document['canonicalUrl'] or f'repository id {repo_id}'}: "
            f"it is a lab's template repository ({result.template.describe()})"
        )
    else:
        asked = " and ".join(
            part for part in (f"repository id {repo_id}" if repo_id else "", document["canonicalUrl"]) if part
        )
        missing = NotFound(f"no session matches {asked}")
    missing.result = document  # under --json: the error document carries the lookup's answer
    raise missing


# -- rendering ------------------------------------------------------------------------------------------


def _verdict(record: dict[str, Any]) -> str:
    if record["canonicalUrl"]:
        return str(record["canonicalUrl"])
    return f"rejected {record['reason']}: {record['detail']}"


def render_backfill(document: dict[str, Any]) -> None:
    if document["nothingToDo"]:
        show(f"{document['backfill']}: nothing to do")
    elif document["dryRun"]:
        would = plural(document["pending"], "session")
        show(f"{document['backfill']}: would map {would} (dry run, nothing written)")
    else:
        mapped, batches = plural(document["changed"], "session"), plural(document["batches"], "batch")
        show(f"{document['backfill']}: mapped {mapped} in {batches}")
    reasons = ", ".join(f"{reason} {count:,}" for reason, count in document["invalidByReason"].items())
    show(
        f"  sessions read {document['sessionsRead']:,} · DUPLICATE_URL {document['duplicateUrl']:,} · "
        f"INVALID_URL {document['invalidUrl']:,}"
        + (f" ({reasons})" if reasons else "")
        + f" · TEMPLATE_URL {document['templateUrl']:,}"
    )
    for ignored in document["templatesIgnored"]:
        warn(
            f"{ignored['source']} of lab {ignored['labId']} ({ignored['labTitle']}), version "
            f"{ignored['version']}: {ignored['url']!r} is not a repository URL ({ignored['reason']}), "
            "ignored as a template"
        )
    if document.get("lostToConcurrentWriters"):
        lost = plural(document["lostToConcurrentWriters"], "session")
        warn(f"{lost} mapped by another writer meanwhile")
    problems = document["problems"]
    if problems:
        title = f"problems (first {len(problems)} of {document['problemsTotal']:,})"
        columns = ("session", "problem", "reason", "url", "canonical / winner")
        rows = ((p["sessionId"], p["problem"], p["reason"], p["url"], _problem_target(p)) for p in problems)
        table(title, columns, rows)
    if document.get("reportCsv") and document["dryRun"]:
        show("  wrote a preview CSV: the problems a real run would report (the dry run mapped nothing)")
    if document.get("reportCsv"):
        show(f"  every problem row: {document['reportCsv']}")


def _problem_target(problem: dict[str, Any]) -> str:
    if problem["problem"] == "DUPLICATE_URL":
        return f"{problem['canonicalUrl']} → {problem['winnerSessionId']}"
    if problem["problem"] == "TEMPLATE_URL":
        return f"{problem['canonicalUrl']}: {problem['detail']}"
    return str(problem["detail"])


def _render_resolve(document: dict[str, Any]) -> None:
    verb = "would be" if document["dryRun"] else ""
    if document["nothingToDo"]:
        show(f"{document['backfill']}: nothing to do (no PENDING mapping)")
        return
    show(
        f"{document['backfill']}: {document['pending']:,} looked up in "
        f"{plural(document['githubRequests'], 'GitHub request')} · RESOLVED {verb} {document['resolved']:,} "
        f"(renamed {document['renamed']:,}) · NOT_FOUND {verb} {document['notFound']:,} · "
        f"conflicts {document['conflicts']:,}".replace("  ", " ")
    )
    if document["conflictRows"]:
        rows = ((c["mappingId"], c["canonicalUrl"], c["detail"]) for c in document["conflictRows"])
        table("conflicts (left PENDING)", ("mapping", "canonical URL", "detail"), rows)


def _render_template(document: dict[str, Any]) -> None:
    for template in document["templates"]:
        show(f"template of lab {template['labId']} ({template['labTitle']}), version {template['version']}")
    if document["canonicalUrl"]:
        show(f"  repository {document['canonicalUrl']}")
    for note in document["notes"]:
        show(f"  note: {note}")


def _render_lookup(document: dict[str, Any]) -> None:
    session, mapping = document["session"], document["mapping"]
    show(f"rule {document['rule']} — {document['ruleName']}")
    show(
        f"  session {session['id']} · {session['status']} · user {session['userId']} · lab {session['labId']}"
        f" · last activity {iso(session['lastActivityAt'])}"
    )
    if mapping:
        show(
            f"  mapping {mapping['id']} · {mapping['resolution']} · source {mapping['source']} · "
            f"repository id {mapping['providerRepoId'] or '-'} · {mapping['canonicalUrl']}"
        )
    if document["wouldBind"]:
        show("  a webhook would bind the pushing repository's id to this mapping (rule 2, same transaction)")
    for note in document["notes"]:
        show(f"  note: {note}")
