"""The F6 backfills (batched, resumable, idempotent) and the active-duplicate resolution."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from forgea_cli import lifecycle
from forgea_cli.audit import ActorType
from forgea_cli.db import backfill_jobs, keyset
from forgea_cli.db.duplicate_queries import DuplicateGroup, find_active_duplicates
from forgea_cli.db.keyset import KeysetJob
from forgea_cli.db.uow import UnitOfWorkFactory
from forgea_cli.errors import Conflict
from forgea_cli.progress import Progress
from forgea_cli.services.rollout.batching import BackfillReport, run_keyset
from forgea_cli.services.rollout.migrations import require_expanded
from forgea_cli.services.rollout.throttle import ThrottleOptions
from forgea_cli.services.sessions.transitions import TransitionRequest, transition_session

DEFAULT_BATCH_SIZE = 5000


@dataclass(frozen=True)
class BackfillOptions:
    batch_size: int = DEFAULT_BATCH_SIZE  # the first batch; later ones adapt to throttle.batch_time
    dry_run: bool = False
    progress: Progress | None = None
    web_host: str = "github.com"  # the GitHub web host repo URLs must name (FORGEA_GITHUB_WEB_URL)
    throttle: ThrottleOptions = field(default_factory=ThrottleOptions)
    notify: Callable[[str], None] = lambda message: None  # why the backfill pauses or resumes
    show: int = 0  # a dry run lists the first rows it would change (details["would_touch"])


def _keyset(uow: UnitOfWorkFactory, job: KeysetJob, options: BackfillOptions) -> BackfillReport:
    require_expanded(uow, f"backfill {job.name}")
    report = _run_keyset(uow, job, options)
    if options.dry_run and options.show:
        report.details["would_touch"] = would_touch(uow, job, options.show)
    return report


def would_touch(uow: UnitOfWorkFactory, job: KeysetJob, limit: int) -> list[dict[str, str]]:
    """The first ``limit`` rows a run of ``job`` would change, in its order (reads only)."""
    with uow(read_only=True) as work:
        rows = keyset.sample_pending(work.connection, job, backfill_jobs.SHOWN[job.name], limit)
    table = job.table.strip('"')
    return [{"table": table, "id": str(key), "detail": detail} for key, detail in rows]


def _run_keyset(uow: UnitOfWorkFactory, job: KeysetJob, options: BackfillOptions) -> BackfillReport:
    return run_keyset(
        uow,
        job,
        batch_size=options.batch_size,
        dry_run=options.dry_run,
        progress=options.progress,
        throttle=options.throttle,
        notify=options.notify,
    )


def lab_versions(uow: UnitOfWorkFactory, options: BackfillOptions) -> BackfillReport:
    """One LabVersion per Lab from (repoVersion, baseRepoUrl); every session linked to its lab's."""
    labs = _keyset(uow, backfill_jobs.LAB_VERSIONS, options)
    sessions = _keyset(uow, backfill_jobs.SESSION_VERSIONS, options)
    report = BackfillReport("lab-versions", options.dry_run)
    report.pending = labs.pending + sessions.pending
    report.changed = labs.changed + sessions.changed
    report.batches = labs.batches + sessions.batches
    report.details = {
        "versions_created": labs.changed,
        "sessions_linked": sessions.changed,
        **_merged_samples(labs, sessions),
        **_merged_throttle(labs, sessions),
    }
    return report


def _merged_samples(*reports: BackfillReport) -> dict:
    samples = [row for r in reports for row in r.details.get("would_touch", [])]
    return {"would_touch": samples} if any("would_touch" in r.details for r in reports) else {}


def _merged_throttle(*reports: BackfillReport) -> dict:
    summaries = [r.details["throttle"] for r in reports if "throttle" in r.details]
    if not summaries:
        return {}
    return {
        "throttle": {
            "batch_size": summaries[-1]["batch_size"],
            "slept_seconds": round(sum(t["slept_seconds"] for t in summaries), 3),
            "pauses": [p for t in summaries for p in t["pauses"]],
        }
    }


def completed_at(uow: UnitOfWorkFactory, options: BackfillOptions) -> BackfillReport:
    """completedAt = lastActivityAt for VERIFIED_PASS sessions that predate the trigger (approximation)."""
    return _keyset(uow, backfill_jobs.COMPLETED_AT, options)


def verification_attempts(uow: UnitOfWorkFactory, options: BackfillOptions) -> BackfillReport:
    """Each legacy VerificationLog row becomes a PASS attempt (attempt 1 unless the session has others)."""
    return _keyset(uow, backfill_jobs.VERIFICATION_ATTEMPTS, options)


def repo_mappings(uow: UnitOfWorkFactory, options: BackfillOptions) -> BackfillReport:
    from forgea_cli.services.mapping import backfill_repo_mappings

    return backfill_repo_mappings(
        uow,
        batch_size=options.batch_size,
        dry_run=options.dry_run,
        progress=options.progress,
        web_host=options.web_host,
        throttle=options.throttle,
        notify=options.notify,
        show=options.show,
    )


BACKFILLS: dict[str, Callable[[UnitOfWorkFactory, BackfillOptions], BackfillReport]] = {
    "lab-versions": lab_versions,
    "completed-at": completed_at,
    "verification-attempts": verification_attempts,
    "repo-mappings": repo_mappings,
}


def run_all(uow: UnitOfWorkFactory, options: BackfillOptions) -> list[BackfillReport]:
    return [run(uow, options) for run in BACKFILLS.values()]


@dataclass
class DuplicateResolution:
    dry_run: bool
    groups: list[DuplicateGroup]
    deferred: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (session id, why)

    @property
    def sessions_to_defer(self) -> int:
        return sum(len(g.defer) for g in self.groups)

    def to_json(self) -> dict:
        return {
            "dryRun": self.dry_run,
            "studentsWithDuplicates": len(self.groups),
            "sessionsToDefer": self.sessions_to_defer,
            "deferred": self.deferred,
            "skipped": [{"sessionId": s, "reason": r} for s, r in self.skipped],
            "groups": [
                {
                    "userId": str(g.user_id),
                    "labId": str(g.lab_id),
                    "keep": str(g.keep),
                    "defer": [{"sessionId": str(s), "status": status} for s, status in g.defer],
                }
                for g in self.groups
            ],
        }


def resolve_duplicates(
    uow: UnitOfWorkFactory, *, actor_id: str, dry_run: bool = False
) -> DuplicateResolution:
    """Defer all but the most recently active session of each student and lab, one audited transition each."""
    with uow() as work:
        groups = find_active_duplicates(work.connection)
    resolution = DuplicateResolution(dry_run, groups)
    if dry_run:
        return resolution
    for group in groups:
        for session_id, seen in group.defer:
            request = TransitionRequest(
                session_id=session_id,
                target=lifecycle.Status.DEFERRED,
                actor_id=actor_id,
                expect=(lifecycle.Status(seen),),
                reason=f"duplicate active session: kept the most recently active session {group.keep}",
                actor_type=ActorType.ADMIN,
            )
            try:
                transition_session(uow, request)
                resolution.deferred.append(str(session_id))
            except Conflict as changed:
                resolution.skipped.append((str(session_id), changed.message))
    return resolution
