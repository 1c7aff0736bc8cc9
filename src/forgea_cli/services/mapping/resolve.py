"""`forgea mapping resolve-ids`: fill providerRepoId from GitHub, within GitHub's request budget.

PENDING mappings are read in keyset pages of up to 100 (by mapping id); each page is one GraphQL
request (aliases, ``GitHubGateway.lookup_many``) and one transaction. No transaction stays open
while GitHub answers, and an interrupted run keeps every page it finished. Rate limits are waited
out by the gateway (it sleeps until the reset GitHub names), so a long run slows down, not fails.

A repository GitHub finds under another name (renamed or transferred: the lookup by the old name
follows the move) is RESOLVED with its id and its current owner, name and htmlUrl; the mapping's
canonicalUrl keeps the URL the session was created with (see docs/mapping.md).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from forgea_cli.db import mapping_queries as q
from forgea_cli.db.uow import Connection, UnitOfWorkFactory
from forgea_cli.errors import GitHubError, InvalidInput
from forgea_cli.github.gateway import GitHubGateway, RepoInfo
from forgea_cli.progress import NoProgress, Progress
from forgea_cli.services.rollout.batching import BackfillReport
from forgea_cli.services.rollout.migrations import require_expanded

NAME = "repo-ids"
PAGE_SIZE = 100  # GitHub's GraphQL node limit per request, and our aliases per query
CONFLICTS_SHOWN = 20
# What the gateway handed to resolve-ids should wait out (the CLI builds it so): a primary rate
# limit resets within the hour, so wait for it rather than give up.
MAX_RATE_LIMIT_WAIT_SECONDS = 3700.0


def resolve_repo_ids(
    uow: UnitOfWorkFactory,
    gateway: GitHubGateway,
    *,
    limit: int | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    page_size: int = PAGE_SIZE,
) -> BackfillReport:
    """Look PENDING mappings up on GitHub: RESOLVED with the id, or NOT_FOUND. ``dry_run`` asks
    GitHub (read-only) and reports the verdicts without writing them. The caller owns ``gateway``
    (and closes it); build it to wait ``MAX_RATE_LIMIT_WAIT_SECONDS`` for a rate limit."""
    if limit is not None and limit < 1:
        raise InvalidInput("--limit must be at least 1")
    if not 1 <= page_size <= PAGE_SIZE:
        raise InvalidInput(f"page size must be between 1 and {PAGE_SIZE}")
    require_expanded(uow, "mapping resolve-ids")
    progress = progress or NoProgress()
    report = BackfillReport(NAME, dry_run)
    with uow(read_only=True) as unit:
        pending = q.count_pending(unit.connection)
    report.pending = pending if limit is None else min(pending, limit)
    tally: Counter[str] = Counter()
    conflicts: list[dict[str, Any]] = []
    progress.start("resolving repository ids", report.pending)
    try:
        _resolve_pages(uow, gateway, report, tally, conflicts, page_size, progress)
    except GitHubError as exc:
        raise type(exc)(
            f"{exc.message} — {_so_far(tally, dry_run)}; rerun to continue", hint=exc.hint
        ) from None
    finally:
        progress.finish()
    report.details = {
        "resolved": tally["resolved"],
        "not_found": tally["not_found"],
        "renamed": tally["renamed"],
        "conflicts": tally["conflicts"],
        "decided_elsewhere": tally["decided_elsewhere"],
        "github_requests": report.batches,
        "conflict_rows": conflicts,
    }
    return report


def _resolve_pages(
    uow: UnitOfWorkFactory,
    gateway: GitHubGateway,
    report: BackfillReport,
    tally: Counter[str],
    conflicts: list[dict[str, Any]],
    page_size: int,
    progress: Progress,
) -> None:
    after = None
    remaining = report.pending
    while remaining > 0:
        with uow(read_only=True) as reader:
            page = q.pending_page(reader.connection, after, min(page_size, remaining))
        if not page:
            return
        found = gateway.lookup_many([mapping.full_name for mapping in page])  # one GraphQL request
        report.batches += 1
        with uow() as writer:
            outcome = _record_page(writer.connection, page, found, conflicts)
            if not report.dry_run:
                writer.commit()
        tally.update(outcome)
        report.changed += outcome["resolved"] + outcome["not_found"]
        remaining -= len(page)
        after = page[-1].id
        progress.advance(len(page))


def _record_page(
    connection: Connection,
    page: list[q.PendingMapping],
    found: dict[str, RepoInfo | None],
    conflicts: list[dict[str, Any]],
) -> Counter[str]:
    outcome: Counter[str] = Counter()
    infos = {mapping.id: found.get(mapping.full_name) for mapping in page}
    taken = q.bound_mappings(connection, [info.id for info in infos.values() if info is not None])
    in_page = Counter(info.id for info in infos.values() if info is not None)
    for mapping in page:
        info = infos[mapping.id]
        if info is not None and (info.id in taken or in_page[info.id] > 1):
            outcome["conflicts"] += 1
            if len(conflicts) < CONFLICTS_SHOWN:
                conflicts.append(_conflict(mapping, info, taken.get(info.id)))
        elif not q.record_resolution(connection, _resolution(mapping, info)):
            outcome["decided_elsewhere"] += 1  # e.g. a webhook bound it meanwhile
        elif info is None:
            outcome["not_found"] += 1
        else:
            outcome["resolved"] += 1
            outcome["renamed"] += info.full_name.lower() != mapping.full_name.lower()
    return outcome


def _resolution(mapping: q.PendingMapping, info: RepoInfo | None) -> q.Resolution:
    if info is None:
        return q.Resolution(mapping.id)
    return q.Resolution(mapping.id, info.id, info.owner, info.name, info.html_url, info.default_branch)


def _conflict(mapping: q.PendingMapping, info: RepoInfo, holder: Any) -> dict[str, Any]:
    held = f"already bound to mapping {holder}" if holder else "also named by another mapping of this page"
    return {
        "mapping_id": str(mapping.id),
        "canonical_url": mapping.canonical_url,
        "repo_id": info.id,
        "repo_full_name": info.full_name,
        "detail": f"repository {info.id} is {held}; left PENDING (nothing is guessed)",
    }


def _so_far(tally: Counter[str], dry_run: bool) -> str:
    if dry_run:
        return "dry run, nothing was written"
    return f"the {tally['resolved']} RESOLVED and {tally['not_found']} NOT_FOUND verdicts so far were kept"
