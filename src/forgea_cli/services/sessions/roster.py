"""Roster creation: one lab, many students, concurrent under GitHub's limit on creating content.

Each row is an ordinary `session create` with the default key (student + lab version), so a rerun
of the same roster — in any order, with rows added or removed — replays what was created and
retries what failed; nothing is created twice. Workers share one pacer (handed in through
``make_gateway``), which spaces the repository creations of all threads together.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forgea_cli.db.session_creation import LabRow, LabVersionRow
from forgea_cli.db.uow import UnitOfWorkFactory
from forgea_cli.documents import plural
from forgea_cli.errors import ForgeaError, InvalidInput
from forgea_cli.github.gateway import GitHubGateway, GitHubNotFound
from forgea_cli.identifiers import uuid_or_none
from forgea_cli.progress import NoProgress, Progress
from forgea_cli.redaction import mask_urls_in_text
from forgea_cli.services.sessions import create as session_create
from forgea_cli.services.sessions import plan as session_plan
from forgea_cli.services.sessions.plan import CreationConfig, Plan
from forgea_cli.services.sessions.users import resolve_user

DEFAULT_WORKERS = 8
IDENTITY_COLUMNS = ("email", "user_id")


@dataclass(frozen=True)
class RosterRow:
    line: int
    user_id: str | None
    email: str | None
    fork_url: str | None
    problem: str | None = None  # why the row cannot run (reported as failed, others still run)

    @property
    def user(self) -> str:
        return self.user_id or self.email or ""


@dataclass
class RowOutcome:
    line: int
    user: str
    # created | replayed | failed | not-started (Ctrl-C); dry run: would-create | would-replay | would-fail
    status: str
    reason: str | None = None
    error: str | None = None  # the error class, for scripts
    session_id: str | None = None
    repo: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "user": self.user,
            "status": self.status,
            "reason": self.reason,
            "error": self.error,
            "labSessionId": self.session_id,
            "repo": self.repo,
        }


@dataclass
class RosterReport:
    lab_id: str
    lab_version: str
    dry_run: bool
    rows: list[RowOutcome] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for row in self.rows:
            counted[row.status] = counted.get(row.status, 0) + 1
        return counted

    @property
    def any_failed(self) -> bool:
        """A row failed (or, in a dry run, would fail): the command exits 1, dry run or not."""
        return any(row.status in ("failed", "would-fail") for row in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "labId": self.lab_id,
            "labVersion": self.lab_version,
            "dryRun": self.dry_run,
            "summary": self.counts(),
            "rows": [row.to_json() for row in self.rows],
        }


# -- reading the file ----------------------------------------------------------------------------------


def read_roster(path: Path) -> list[RosterRow]:
    """Rows of a CSV with an `email` or `user_id` column (and optionally `fork_url`).

    Everything the file alone can tell is checked before anything is written: an unusable file, or
    any bad line — no email or user_id, a user_id that is no UUID, an email without `@`, a NUL
    byte (PostgreSQL stores no NUL in text), the same student twice — refuses the whole roster
    (InvalidInput, exit 2) naming every bad line. What only the database can tell (an unknown
    student, an id and an email of two students) fails that row alone when it runs.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the roster {path}: {exc.__class__.__name__}") from None
    reader = csv.DictReader(io.StringIO(text))
    headers = [(name or "").strip().lower() for name in reader.fieldnames or []]
    if not any(column in headers for column in IDENTITY_COLUMNS):
        raise InvalidInput(
            f"the roster {path} needs an `email` or `user_id` column (found: {', '.join(headers)})"
        )
    reader.fieldnames = headers
    try:
        rows = [_row(reader.line_num, record) for record in reader]
    except csv.Error as exc:
        raise InvalidInput(f"the roster {path} is not valid CSV (line {reader.line_num}): {exc}") from None
    if not rows:
        raise InvalidInput(f"the roster {path} has no rows")
    rows = _flag_duplicates(rows)
    bad = [row for row in rows if row.problem is not None]
    if bad:
        lines = "\n".join(f"  line {row.line}: {row.problem}" for row in bad)
        raise InvalidInput(
            f"the roster {path} has {plural(len(bad), 'bad line')}; nothing was written:\n{lines}",
            hint="fix those lines and run the same command again",
        )
    return rows


def _row(line: int, record: dict[str, Any]) -> RosterRow:
    def cell(name: str) -> str | None:
        value = record.get(name)
        return value.strip() or None if isinstance(value, str) else None

    user_id, email, fork_url = cell("user_id"), cell("email"), cell("fork_url")
    problem = None
    nul = [name for name, value in record.items() if isinstance(value, str) and "\x00" in value]
    if nul:
        problem = f"a NUL byte in {', '.join(str(name) for name in nul)}"
    elif user_id is None and email is None:
        problem = "no email or user_id"
    elif user_id is not None and uuid_or_none(user_id) is None:
        problem = f"user_id {user_id!r} is not a UUID"
    elif email is not None and "@" not in email:
        problem = f"email {email!r} is not an email address"
    return RosterRow(line, user_id, email, fork_url, problem)


def _flag_duplicates(rows: list[RosterRow]) -> list[RosterRow]:
    first_line: dict[str, int] = {}
    flagged = []
    for row in rows:
        identity = row.user.lower()
        if row.problem is None and identity in first_line:
            row = RosterRow(
                row.line, row.user_id, row.email, row.fork_url, f"same student as line {first_line[identity]}"
            )
        first_line.setdefault(identity, row.line)
        flagged.append(row)
    return flagged


# -- running it --------------------------------------------------------------------------------------


def run_roster(
    uow: UnitOfWorkFactory,
    make_gateway: Callable[[], GitHubGateway],
    config: CreationConfig,
    *,
    lab: str,
    lab_version: str | None,
    rows: list[RosterRow],
    workers: int = DEFAULT_WORKERS,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> RosterReport:
    with uow(read_only=True) as work:
        lab_row, version = session_plan.resolve_lab(work, lab, lab_version)
    runner = _RosterRun(uow, make_gateway, config, lab_row, version, dry_run)
    if dry_run:
        runner.check_template()
    report = RosterReport(str(lab_row.id), version.version, dry_run)
    progress = progress or NoProgress()
    progress.start(f"sessions for {lab_row.title}", len(rows))
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(rows))), thread_name_prefix="roster")
    futures = {pool.submit(runner.run_row, row): row for row in rows}
    try:
        for future in as_completed(futures):
            report.rows.append(future.result())
            progress.advance(1)
    except KeyboardInterrupt:
        raise _interrupted(report, runner, futures) from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        progress.finish()
        runner.close()
    report.rows.sort(key=lambda outcome: outcome.line)
    return report


class RosterInterrupted(KeyboardInterrupt):
    """Ctrl-C during a roster: no further row was started, the rows in flight finished, and
    ``report`` says what happened to each row (exit 130)."""

    hint = "rerun the same roster: finished rows replay, the others are created"

    def __init__(self, report: RosterReport) -> None:
        counts = ", ".join(f"{count} {status}" for status, count in sorted(report.counts().items()))
        super().__init__(f"interrupted: {counts}; no row was started after Ctrl-C")
        self.report = report

    @property
    def message(self) -> str:
        return str(self.args[0])


def _interrupted(
    report: RosterReport, runner: _RosterRun, futures: dict[Future, RosterRow]
) -> RosterInterrupted:
    """Stop starting rows at once; let the ones in flight finish (each is one creation, and a row
    cut in half would leave its key to wait out its lease); report every row."""
    runner.stopping.set()
    for future in futures:
        future.cancel()
    wait(futures)
    seen = {outcome.line for outcome in report.rows}
    for future, row in futures.items():
        if row.line in seen:
            continue
        if future.cancelled():
            report.rows.append(_not_started(row))
        else:
            report.rows.append(future.result())
    report.rows.sort(key=lambda outcome: outcome.line)
    return RosterInterrupted(report)


def _not_started(row: RosterRow) -> RowOutcome:
    return RowOutcome(row.line, row.user, "not-started", reason="interrupted (Ctrl-C) before it started")


class _RosterRun:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        make_gateway: Callable[[], GitHubGateway],
        config: CreationConfig,
        lab: LabRow,
        version: LabVersionRow,
        dry_run: bool,
    ) -> None:
        self.uow, self.make_gateway, self.config = uow, make_gateway, config
        self.lab, self.version, self.dry_run = lab, version, dry_run
        self._local = threading.local()
        self._gateways: list[GitHubGateway] = []
        self._lock = threading.Lock()
        self.stopping = threading.Event()  # Ctrl-C: rows not yet begun are not started

    def gateway(self) -> GitHubGateway:
        """One gateway (one HTTP session) per worker thread; they share the pacer."""
        made = getattr(self._local, "gateway", None)
        if made is None:
            made = self._local.gateway = self.make_gateway()
            with self._lock:
                self._gateways.append(made)
        return made

    def close(self) -> None:
        for gateway in self._gateways:
            gateway.close()

    def check_template(self) -> None:
        template = session_plan.template_of(self.config, self.lab, self.version)
        if self.gateway().get_repo(template.full_name) is None:
            raise GitHubNotFound(f"the template {template.full_name} is not visible to the token")

    def run_row(self, row: RosterRow) -> RowOutcome:
        if self.stopping.is_set():
            return _not_started(row)
        if row.problem is not None:
            return RowOutcome(row.line, row.user, "failed", reason=row.problem, error="InvalidInput")
        try:
            plan = self._plan(row)
            if self.dry_run:
                return self._preview(row, plan)
            outcome = session_create.run(self.uow, self.gateway(), self.config, plan)
        except ForgeaError as exc:
            return RowOutcome(row.line, row.user, "failed", reason=exc.message, error=type(exc).__name__)
        except Exception as exc:  # one row's surprise must not sink the roster
            first_line = next(iter(str(exc).strip().splitlines()), "")
            reason = mask_urls_in_text(f"unexpected {type(exc).__name__}: {first_line}")
            return RowOutcome(row.line, row.user, "failed", reason=reason, error=type(exc).__name__)
        result = outcome.result
        return RowOutcome(
            row.line,
            row.user,
            outcome.outcome,
            session_id=result.get("labSessionId"),
            repo=result.get("repoFullName"),
        )

    def _plan(self, row: RosterRow) -> Plan:
        with self.uow(read_only=True) as work:
            user = resolve_user(work, row.user)
            if row.user_id and row.email and user.email.lower() != row.email.lower():
                raise InvalidInput(f"user_id {row.user_id} belongs to {user.email}, not {row.email}")
            return session_plan.plan_for(
                work, self.config, user, self.lab, self.version, fork_url=row.fork_url
            )

    def _preview(self, row: RosterRow, plan: Plan) -> RowOutcome:
        """The single-student dry run's verdict for this row: what the real run would do with it."""
        verdict = session_plan.preview(self.uow, self.gateway(), self.config, plan)
        repo = plan.fork.full_name if plan.fork else None
        if verdict.refused:
            reason = verdict.would_do.removeprefix("refuse: ")
            return RowOutcome(row.line, row.user, "would-fail", reason=reason, error=verdict.error, repo=repo)
        if verdict.action == "replay":
            session = str(verdict.session_id) if verdict.session_id else None
            return RowOutcome(row.line, row.user, "would-replay", session_id=session, repo=repo)
        return RowOutcome(row.line, row.user, "would-create", reason=_unless_plain(verdict), repo=repo)


def _unless_plain(verdict: session_plan.Verdict) -> str | None:
    """Say what else happens on the way (a failed key retried, a closed key retired), if anything."""
    return None if verdict.would_do == "create the repository and the session" else verdict.would_do
