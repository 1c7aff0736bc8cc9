"""`repo reconcile`: repositories of ours in the org with nothing behind them, and sessions whose
repository is gone. Report-only unless asked to execute; only orphans are ever deleted.

A repository is ours when its name starts with the configured prefix. It is in use when a mapping
(by GitHub id or canonical URL) or a legacy session URL points at it; it is held when an unfinished
key recorded it or planned it (same short id) — `keys resume` would adopt it. Anything else is an
orphan, including the repository a failed key could not delete (REPO_CLEANUP_PENDING).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from forgea_cli.db import idempotency_keys as keys_db
from forgea_cli.db import session_repo_references as refs_db
from forgea_cli.db.idempotency_keys import KeyRow
from forgea_cli.db.session_repo_references import RepoReferences
from forgea_cli.db.uow import UnitOfWorkFactory
from forgea_cli.errors import InvalidInput
from forgea_cli.github.gateway import GitHubError, GitHubGateway, RepoInfo
from forgea_cli.services.sessions import repo_names
from forgea_cli.services.sessions.idempotency import UNFINISHED, ErrorCode, RecoveryPoint
from forgea_cli.services.sessions.plan import CreationConfig
from forgea_cli.urls import RepoUrlRejected, canonical_repo_url

log = logging.getLogger("forgea_cli.reconcile")


@dataclass
class OrphanRepo:
    full_name: str
    repo_id: int
    key: KeyRow | None = None  # the failed key that left it behind, if any
    deleted: bool = False
    skipped: str | None = None  # why an --execute run left it (in use by now, delete failed)

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.full_name,
            "providerRepoId": self.repo_id,
            "key": self.key.key if self.key else None,
            "keyErrorCode": self.key.error_code if self.key else None,
            "deleted": self.deleted,
            "skipped": self.skipped,
        }


@dataclass
class HeldRepo:
    full_name: str
    repo_id: int
    key: str
    recovery_point: str


@dataclass
class GoneSession:
    session_id: str
    status: str
    provider_repo_id: int
    repo: str  # the name the mapping last knew


@dataclass
class ReconcileReport:
    org: str
    prefix: str
    executed: bool
    scanned: int = 0  # repositories in the org under the prefix
    in_use: int = 0
    orphans: list[OrphanRepo] = field(default_factory=list)
    held: list[HeldRepo] = field(default_factory=list)
    gone: list[GoneSession] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "org": self.org,
            "prefix": self.prefix,
            "executed": self.executed,
            "scanned": self.scanned,
            "inUse": self.in_use,
            "orphans": [o.to_json() for o in self.orphans],
            "held": [_camel(asdict(h)) for h in self.held],
            "sessionsWithRepoGone": [_camel(asdict(g)) for g in self.gone],
        }


def reconcile_repos(
    uow: UnitOfWorkFactory, gateway: GitHubGateway, config: CreationConfig, *, execute: bool = False
) -> ReconcileReport:
    org = config.org
    if not org:
        raise InvalidInput("FORGEA_GITHUB_ORG is not set: it names the org to reconcile")
    report = ReconcileReport(org, config.repo_prefix, execute)
    # GitHub first, then the database: a creation that starts in between has its key already.
    ours = [r for r in gateway.list_org_repos(org) if r.name.lower().startswith(config.repo_prefix.lower())]
    report.scanned = len(ours)
    refs = _references(uow, config, ours)
    for repo in ours:
        _classify(report, config, refs, repo)
    report.gone = _sessions_with_repo_gone(uow, gateway)
    if execute:
        delete_orphans(uow, gateway, config, report)
    return report


def delete_orphans(
    uow: UnitOfWorkFactory, gateway: GitHubGateway, config: CreationConfig, report: ReconcileReport
) -> None:
    """Delete the orphans of a report (each checked again first); marks the report executed."""
    report.executed = True
    for orphan in report.orphans:
        _delete(uow, gateway, config, orphan)


def _references(uow: UnitOfWorkFactory, config: CreationConfig, repos: list[RepoInfo]) -> RepoReferences:
    with uow(read_only=True) as work:
        return refs_db.load(
            work.connection,
            repo_ids=[r.id for r in repos],
            canonical_urls=[_canonical(config, r.html_url) or "" for r in repos],
            org=config.org or "",
            prefix=config.repo_prefix,
        )


def _classify(report: ReconcileReport, config: CreationConfig, refs: RepoReferences, repo: RepoInfo) -> None:
    if _in_use(config, refs, repo):
        report.in_use += 1
        return
    holder = _holding_key(refs.keys, repo)
    if holder is not None:
        report.held.append(HeldRepo(repo.full_name, repo.id, holder.key, holder.recovery_point))
        return
    failed = _failed_key(refs.keys, repo)
    report.orphans.append(OrphanRepo(repo.full_name, repo.id, failed))


def _in_use(config: CreationConfig, refs: RepoReferences, repo: RepoInfo) -> bool:
    canonical = _canonical(config, repo.html_url)
    if repo.id in refs.mapped_ids or canonical in refs.mapped_urls:
        return True
    if canonical in {_canonical(config, url) for url in refs.session_fork_urls}:
        return True
    # A repository bound with --fork-url is never ours to delete, whatever became of its key.
    return any(k.request_params.get("forkUrl") and k.provider_repo_id == repo.id for k in refs.keys)


def _holding_key(keys: list[KeyRow], repo: RepoInfo) -> KeyRow | None:
    return next((k for k in keys if k.recovery_point in UNFINISHED and _names(k, repo)), None)


def _failed_key(keys: list[KeyRow], repo: RepoInfo) -> KeyRow | None:
    return next((k for k in keys if k.recovery_point == RecoveryPoint.FAILED and _names(k, repo)), None)


def _names(key: KeyRow, repo: RepoInfo) -> bool:
    if key.provider_repo_id is not None:
        return key.provider_repo_id == repo.id
    return repo_names.short_id(key.planned_session_id) == repo_names.short_id_in(repo.name)


def _canonical(config: CreationConfig, url: str) -> str | None:
    with contextlib.suppress(RepoUrlRejected):
        return canonical_repo_url(url, config.web_host)
    return None


def _delete(
    uow: UnitOfWorkFactory, gateway: GitHubGateway, config: CreationConfig, orphan: OrphanRepo
) -> None:
    current = gateway.get_repo_by_id(orphan.repo_id)
    if current is None:
        orphan.deleted, orphan.skipped = False, "already gone"
        _forget_cleanup(uow, orphan)
        return
    # Look again just before deleting: a session or a rerun may have claimed it since the scan.
    refs = _references(uow, config, [current])
    if _in_use(config, refs, current) or _holding_key(refs.keys, current) is not None:
        orphan.skipped = "in use by now"
        return
    try:
        gateway.delete_repo(current.full_name)
    except GitHubError as exc:
        orphan.skipped = f"delete failed: {exc.message}"
        return
    orphan.deleted = True
    _forget_cleanup(uow, orphan)


def _forget_cleanup(uow: UnitOfWorkFactory, orphan: OrphanRepo) -> None:
    """The failed key that left the repository behind no longer needs cleanup."""
    key = orphan.key
    if key is None or key.error_code != ErrorCode.REPO_CLEANUP_PENDING:
        return
    original = ((key.result or {}).get("error") or {}).get("code") or ErrorCode.REPO_CLEANUP_PENDING
    with uow() as work:
        keys_db.cleanup_done(work.connection, key.id, str(original))
        work.commit()


def _camel(document: dict[str, Any]) -> dict[str, Any]:
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    return {camel(k): v for k, v in document.items()}


def _sessions_with_repo_gone(uow: UnitOfWorkFactory, gateway: GitHubGateway) -> list[GoneSession]:
    """Active sessions whose mapped repository GitHub no longer has (by name, then by id)."""
    with uow(read_only=True) as work:
        mapped = refs_db.active_mapped_sessions(work.connection)
    found = gateway.lookup_many([m.full_name for m in mapped]) if mapped else {}
    gone = []
    for session in mapped:
        by_name = found.get(session.full_name)
        if by_name is not None and by_name.id == session.provider_repo_id:
            continue
        if gateway.get_repo_by_id(session.provider_repo_id) is None:
            gone.append(
                GoneSession(
                    str(session.session_id), session.status, session.provider_repo_id, session.full_name
                )
            )
    return gone
