"""`forgea mapping backfill` / `forgea backfill repo-mappings`: one GitHubRepoMapping per legacy session.

Three steps, so that the winner of a URL is chosen over the whole table, never per batch:

1. *stage* — every session without a mapping is streamed out (COPY, one snapshot, on a reader of
   its own), its ``userForkUrl`` canonicalised in Python by ``forgea_cli.urls`` (the one
   canonicaliser of the tool) and streamed into a temporary table, while PostgreSQL is still
   producing the next rows (the COPY codec is ``db.mapping_backfill``'s);
2. *plan* — one set-based pass decides every staged session: mapped, DUPLICATE_URL, INVALID_URL or
   TEMPLATE_URL (the session names a lab's template repository, which is never a student's: the
   set of template URLs comes from ``services.mapping.templates``, canonicalised once per run);
3. *write* — the plan is inserted in keyset batches (canonical URL order), one transaction each
   (the unit of work commits each batch and goes on on the same connection, where the temporary
   tables live), then the mapping table is vacuumed and analysed (an autocommit unit of work).

A killed run loses only its temporary tables and the current batch; a rerun stages what is still
unmapped and plans again, so it is resumable and idempotent. Existing mappings are never changed.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

from forgea_cli.db import advisory
from forgea_cli.db import mapping_backfill as sql
from forgea_cli.db.uow import UnitOfWork, UnitOfWorkFactory
from forgea_cli.errors import InvalidInput
from forgea_cli.progress import NoProgress, Progress
from forgea_cli.services.mapping import templates as lab_templates
from forgea_cli.services.rollout.batching import BackfillReport, batches_of, committed_batch, throttled
from forgea_cli.services.rollout.migrations import require_expanded
from forgea_cli.services.rollout.throttle import Throttle, ThrottleOptions
from forgea_cli.urls import DEFAULT_WEB_HOST, RepoUrlRejected, parse_repo_url, redact_url

NAME = "repo-mappings"
WINNER_RULE = "active session first, then the most recent lastActivityAt, then the smallest id"
PROBLEMS_SHOWN = 20
LOCK_WAIT_SECONDS = 10.0
CSV_COLUMNS = ("session_id", "problem", "reason", "detail", "url", "canonical_url", "winner_session_id")


def backfill_repo_mappings(
    uow: UnitOfWorkFactory,
    *,
    batch_size: int = 5000,
    dry_run: bool = False,
    progress: Progress | None = None,
    report_csv: Path | None = None,
    web_host: str = DEFAULT_WEB_HOST,
    throttle: ThrottleOptions | None = None,
    notify: Callable[[str], None] = lambda message: None,
    show: int = 0,
) -> BackfillReport:
    """Map every legacy session whose URL is valid, not a duplicate and not a lab's template
    (PENDING, source BACKFILL). The writes yield to the web app like every backfill (``throttle``).
    A dry run with ``show`` lists the first sessions it would map (``details["would_touch"]``)."""
    if batch_size < 1:
        raise InvalidInput("--batch-size must be at least 1")
    require_expanded(uow, "the repo-mapping backfill")
    progress = progress or NoProgress()
    report = BackfillReport(NAME, dry_run)
    # The run lock lives on a connection of its own, outside any transaction, across every batch.
    with uow(autocommit=True) as lock, _run_lock(lock), uow() as writer:
        sql.apply_session_settings(writer.connection)
        try:
            templates = lab_templates.all_templates(writer.connection, web_host)
            counts = _stage_and_plan(uow, writer, templates, web_host, progress)
            report.pending = counts.to_map
            report.details = _summary(writer, counts, templates, web_host)
            if report_csv is not None:
                _write_csv(writer, report_csv, web_host)
                report.details["report_csv"] = str(report_csv)
            writer.commit()
            if dry_run:
                report.changed = counts.to_map
                if show:
                    report.details["would_touch"] = [
                        {"table": "LabSession", "id": str(session_id), "detail": f"map to {canonical}"}
                        for session_id, canonical in sql.planned_rows(writer.connection, show)
                    ]
            elif counts.to_map:
                with throttled(uow, writer, batch_size, throttle or ThrottleOptions(), notify) as control:
                    _write_plan(writer, counts, control, progress, report)
        finally:
            writer.rollback()
            sql.drop_temp_tables(writer.connection)  # the connection goes back to the pool
            sql.reset_session_settings(writer.connection)
            writer.commit()
    if report.changed and not dry_run:
        with uow(autocommit=True) as maintenance:
            sql.vacuum_analyze_mappings(maintenance.connection)
    return report


# -- stage and plan -----------------------------------------------------------------------------------


def _stage_and_plan(
    uow: UnitOfWorkFactory,
    writer: UnitOfWork,
    templates: lab_templates.Templates,
    web_host: str,
    progress: Progress,
) -> sql.PlanCounts:
    sql.create_stage(writer.connection)
    sql.create_templates(
        writer.connection,
        ((url, lab_templates.describe_all(found)) for url, found in templates.by_url.items()),
    )
    progress.start("repo mappings: reading sessions", None)
    try:
        # A reader of its own, so that reading overlaps the writer's work.
        with uow(read_only=True) as reader:
            sql.stage_unmapped_sessions(
                writer.connection, reader.connection, lambda url: url_verdict(url, web_host), progress.advance
            )
    finally:
        progress.finish()
    return sql.create_plan(writer.connection)


def url_verdict(url: str, web_host: str = DEFAULT_WEB_HOST) -> sql.UrlVerdict:
    """What the stage records of a userForkUrl: (canonical URL, owner, name), or why it is rejected
    (``forgea_cli.urls`` is the one canonicaliser of the tool)."""
    try:
        ref = parse_repo_url(url, web_host)
    except RepoUrlRejected as rejected:
        return rejected.reason.value
    return ref.canonical_url, ref.owner, ref.name


def stage_line(line: bytes, web_host: str = DEFAULT_WEB_HOST) -> bytes:
    """One session's COPY line as the backfill stages it: db/'s codec around ``url_verdict``."""
    return sql.stage_line(line, lambda url: url_verdict(url, web_host))


# -- write ----------------------------------------------------------------------------------------------


def _write_plan(
    writer: UnitOfWork,
    counts: sql.PlanCounts,
    control: Throttle,
    progress: Progress,
    report: BackfillReport,
) -> None:
    lost, low, size = 0, 0, control.sizer.size
    with batches_of(control, report, progress, "repo mappings: writing", counts.to_map):
        while low < counts.last_seq:
            # One transaction per batch; the temporary plan stays on the connection.
            (planned, inserted), worked = committed_batch(
                writer, sql.insert_batch, writer.connection, low, low + size
            )
            low += size
            if planned:
                report.batches += 1
                report.changed += inserted
                lost += planned - inserted
                progress.advance(planned)
            size = control.between_batches(max(planned, 1), worked)
    # A session or URL mapped by someone else (e.g. `session create`) between plan and write.
    report.details["lost_to_concurrent_writers"] = lost


# -- reporting ------------------------------------------------------------------------------------------


def _summary(
    writer: UnitOfWork, counts: sql.PlanCounts, templates: lab_templates.Templates, web_host: str
) -> dict[str, Any]:
    problems = [problem_record(row, web_host) for row in sql.problem_rows(writer.connection, PROBLEMS_SHOWN)]
    return {
        "sessions_read": counts.staged,
        "duplicate_url": counts.duplicate_url,
        "invalid_url": counts.invalid_url,
        "template_url": counts.template_url,
        "invalid_by_reason": sql.invalid_by_reason(writer.connection) if counts.invalid_url else {},
        "lost_to_concurrent_writers": 0,
        "winner_rule": WINNER_RULE,
        "template_urls": len(templates.by_url),
        # Stored template URLs that name no repository: they cannot match a session, so are ignored.
        "templates_ignored": [ignored.to_json() for ignored in templates.ignored],
        "problems_total": counts.duplicate_url + counts.invalid_url + counts.template_url,
        "problems": problems,
        "report_csv": None,
    }


def problem_record(row: sql.ProblemRow, web_host: str = DEFAULT_WEB_HOST) -> dict[str, Any]:
    """One problem row for people and CSV: URLs masked (credentials, query), reasons spelled out."""
    if row.canonical is None:
        return {
            "session_id": str(row.session_id),
            "problem": "INVALID_URL",
            "reason": row.reason,
            "detail": _rejection_detail(row.user_fork_url, web_host),
            "url": redact_url(row.user_fork_url),
            "canonical_url": None,
            "winner_session_id": None,
        }
    if row.template is not None:
        return {
            "session_id": str(row.session_id),
            "problem": "TEMPLATE_URL",
            "reason": "LAB_TEMPLATE",
            "detail": f"{row.template}: a lab's template repository is never a student's",
            "url": redact_url(row.user_fork_url),
            "canonical_url": row.canonical,
            "winner_session_id": None,
        }
    if row.held_by_existing_mapping:
        reason, detail = "URL_ALREADY_MAPPED", f"the URL is already mapped to session {row.winner}"
    else:
        reason, detail = "ANOTHER_SESSION_CHOSEN", f"session {row.winner} was chosen ({WINNER_RULE})"
    return {
        "session_id": str(row.session_id),
        "problem": "DUPLICATE_URL",
        "reason": reason,
        "detail": detail,
        "url": redact_url(row.user_fork_url),
        "canonical_url": row.canonical,
        "winner_session_id": str(row.winner),
    }


def _rejection_detail(url: str, web_host: str) -> str:
    try:
        parse_repo_url(url, web_host)
    except RepoUrlRejected as rejected:
        return rejected.detail
    return "rejected with another web host configuration"


def _write_csv(run: UnitOfWork, path: Path, web_host: str) -> None:
    try:
        handle = Path(path).open("w", encoding="utf-8", newline="")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise InvalidInput(f"cannot write the report to {path}: {exc.strerror or exc}") from None
    with handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in sql.problem_rows(run.connection):
            writer.writerow(problem_record(row, web_host))


# -- one run at a time --------------------------------------------------------------------------------


def _run_lock(lock: UnitOfWork):
    return advisory.held(
        lock.connection,
        sql.RUN_LOCK_KEY,
        wait_seconds=LOCK_WAIT_SECONDS,
        busy="another repo-mapping backfill is running on this database",
        hint="wait for it to finish; a rerun afterwards finds nothing left to do",
    )
