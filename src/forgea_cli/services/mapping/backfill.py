"""`forgea mapping backfill` / `forgea backfill repo-mappings`: one GitHubRepoMapping per legacy session.

Three steps, so that the winner of a URL is chosen over the whole table, never per batch:

1. *stage* — every session without a mapping is streamed out (COPY, one snapshot), its
   ``userForkUrl`` canonicalised in Python by ``forgea_cli.urls`` (the one canonicaliser of the
   tool) and streamed into a temporary table, while PostgreSQL is still producing the next rows;
2. *plan* — one set-based pass decides every staged session: mapped, DUPLICATE_URL, INVALID_URL or
   TEMPLATE_URL (the session names a lab's template repository, which is never a student's: the
   set of template URLs comes from ``services.lab_templates``, canonicalised once per run);
3. *write* — the plan is inserted in keyset batches (canonical URL order), one transaction each,
   then the mapping table is vacuumed and analysed (statistics and visibility map for the new rows).

A killed run loses only its temporary tables and the current batch; a rerun stages what is still
unmapped and plans again, so it is resumable and idempotent. Existing mappings are never changed.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forgea_cli.db import advisory
from forgea_cli.db import mapping_backfill as sql
from forgea_cli.db.engine import connect
from forgea_cli.errors import InvalidInput
from forgea_cli.progress import NoProgress, Progress
from forgea_cli.services.mapping import templates as lab_templates
from forgea_cli.services.rollout.batching import BackfillReport
from forgea_cli.urls import DEFAULT_WEB_HOST, RepoUrlRejected, parse_repo_url, redact_url

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

NAME = "repo-mappings"
WINNER_RULE = "active session first, then the most recent lastActivityAt, then the smallest id"
PROBLEMS_SHOWN = 20
LINES_PER_WRITE = 2000
LOCK_WAIT_SECONDS = 10.0
CSV_COLUMNS = ("session_id", "problem", "reason", "detail", "url", "canonical_url", "winner_session_id")


def backfill_repo_mappings(
    engine: Engine,
    *,
    batch_size: int = 5000,
    dry_run: bool = False,
    progress: Progress | None = None,
    report_csv: Path | None = None,
    web_host: str = DEFAULT_WEB_HOST,
) -> BackfillReport:
    """Map every legacy session whose URL is valid, not a duplicate and not a lab's template
    (PENDING, source BACKFILL)."""
    if batch_size < 1:
        raise InvalidInput("--batch-size must be at least 1")
    progress = progress or NoProgress()
    report = BackfillReport(NAME, dry_run)
    with connect(engine) as connection, _run_lock(connection):
        sql.apply_session_settings(connection)
        try:
            templates = lab_templates.all_templates(connection, web_host)
            counts = _stage_and_plan(engine, connection, templates, web_host, progress)
            report.pending = counts.to_map
            report.details = _summary(connection, counts, templates, web_host)
            if report_csv is not None:
                _write_csv(connection, report_csv, web_host)
                report.details["report_csv"] = str(report_csv)
            connection.commit()
            if dry_run:
                report.changed = counts.to_map
            elif counts.to_map:
                _write_plan(connection, counts, batch_size, progress, report)
        finally:
            connection.rollback()
            sql.drop_temp_tables(connection)
            sql.reset_session_settings(connection)
            connection.commit()
    if report.changed and not dry_run:
        sql.vacuum_analyze_mappings(engine)
    return report


# -- stage and plan -----------------------------------------------------------------------------------


def _stage_and_plan(
    engine: Engine,
    connection: Connection,
    templates: lab_templates.Templates,
    web_host: str,
    progress: Progress,
) -> sql.PlanCounts:
    sql.create_stage(connection)
    sql.create_templates(
        connection, ((url, lab_templates.describe_all(found)) for url, found in templates.by_url.items())
    )
    progress.start("repo mappings: reading sessions", None)
    try:
        with sql.unmapped_session_lines(engine) as lines, sql.stage_writer(connection) as stage:
            for chunk in _chunks(stage_lines(lines, web_host), LINES_PER_WRITE):
                stage.write(b"".join(chunk))
                progress.advance(len(chunk))
    finally:
        progress.finish()
    return sql.create_plan(connection)


def stage_lines(lines: Iterable[bytes], web_host: str = DEFAULT_WEB_HOST) -> Iterator[bytes]:
    for line in lines:
        yield stage_line(line, web_host)


def stage_line(line: bytes, web_host: str = DEFAULT_WEB_HOST) -> bytes:
    """``id\\tactive\\tlastActivityAt\\turl\\n`` (COPY text) → the stage row for that session.

    The first three fields pass through untouched; the URL is the last field (fields never hold a
    raw tab: COPY escapes it).
    """
    head, _, raw_url = line.rpartition(b"\t")
    try:
        ref = parse_repo_url(decode_copy_field(raw_url.rstrip(b"\n")), web_host)
    except RepoUrlRejected as rejected:
        return head + b"\t\\N\t\\N\t\\N\t" + rejected.reason.value.encode() + b"\n"
    # Owner, name and host are ASCII without tabs or backslashes (urls.py checks them).
    return head + f"\t{ref.canonical_url}\t{ref.owner}\t{ref.name}\t\\N\n".encode()


_COPY_ESCAPE = re.compile(rb"\\(.)", re.DOTALL)
_COPY_ESCAPES = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}


def decode_copy_field(raw: bytes) -> str:
    """A text-format COPY TO field as text (COPY TO only emits these single-character escapes)."""
    if b"\\" in raw:
        raw = _COPY_ESCAPE.sub(lambda m: _COPY_ESCAPES.get(m.group(1), m.group(1)), raw)
    return raw.decode("utf-8", errors="replace")


def _chunks(lines: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- write ----------------------------------------------------------------------------------------------


def _write_plan(
    connection: Connection,
    counts: sql.PlanCounts,
    batch_size: int,
    progress: Progress,
    report: BackfillReport,
) -> None:
    lost = 0
    progress.start("repo mappings: writing", counts.to_map)
    try:
        for low in range(0, counts.last_seq, batch_size):
            planned, inserted = sql.insert_batch(connection, low, low + batch_size)
            connection.commit()
            if planned:
                report.batches += 1
                report.changed += inserted
                lost += planned - inserted
                progress.advance(planned)
    finally:
        progress.finish()
    # A session or URL mapped by someone else (e.g. `session create`) between plan and write.
    report.details["lost_to_concurrent_writers"] = lost


# -- reporting ------------------------------------------------------------------------------------------


def _summary(
    connection: Connection, counts: sql.PlanCounts, templates: lab_templates.Templates, web_host: str
) -> dict[str, Any]:
    problems = [problem_record(row, web_host) for row in sql.problem_rows(connection, PROBLEMS_SHOWN)]
    return {
        "sessions_read": counts.staged,
        "duplicate_url": counts.duplicate_url,
        "invalid_url": counts.invalid_url,
        "template_url": counts.template_url,
        "invalid_by_reason": sql.invalid_by_reason(connection) if counts.invalid_url else {},
        "lost_to_concurrent_writers": 0,
        "winner_rule": WINNER_RULE,
        "template_urls": len(templates.by_url),
        # Stored template URLs that name no repository: they cannot match a session, so are ignored.
        "templates_ignored": [ignored.as_dict() for ignored in templates.ignored],
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


def _write_csv(connection: Connection, path: Path, web_host: str) -> None:
    try:
        handle = Path(path).open("w", encoding="utf-8", newline="")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise InvalidInput(f"cannot write the report to {path}: {exc.strerror or exc}") from None
    with handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in sql.problem_rows(connection):
            writer.writerow(problem_record(row, web_host))


# -- one run at a time --------------------------------------------------------------------------------


def _run_lock(connection: Connection):
    return advisory.held(
        connection,
        sql.RUN_LOCK_KEY,
        wait_seconds=LOCK_WAIT_SECONDS,
        busy="another repo-mapping backfill is running on this database",
        hint="wait for it to finish; a rerun afterwards finds nothing left to do",
    )
