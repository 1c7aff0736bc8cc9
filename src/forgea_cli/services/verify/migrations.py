"""Migration checks: the database is at head, on a revision this build knows, and the lifecycle
module is the one the applied trigger SQL was frozen from."""

from __future__ import annotations

import ast
from pathlib import Path

from forgea_cli import lifecycle
from forgea_cli.db import migrations
from forgea_cli.services.verify.results import CheckResult, failed, judged, skipped
from forgea_cli.services.verify.revisions import AppliedRevisions

FINGERPRINT_NAME = "LIFECYCLE_FINGERPRINT"


def applied_revisions(current: str | None) -> AppliedRevisions:
    return AppliedRevisions(current, tuple(r.revision for r in migrations.history()))


def check_migrations(revisions: AppliedRevisions) -> list[CheckResult]:
    return [_known(revisions), _at_head(revisions), _lifecycle_fingerprint(revisions)]


def _known(revisions: AppliedRevisions) -> CheckResult:
    check_id = "migrations.known_revision"
    if not revisions.managed:
        return failed(
            check_id,
            "alembic_version",
            "the database has no forgea revision (no alembic_version row)",
            expected="a revision of this build",
            found=None,
            hint="`forgea migrate adopt` (a Prisma-built database) or `forgea migrate upgrade` (empty)",
        )
    return judged(
        revisions.known,
        check_id,
        "alembic_version",
        f"revision {revisions.current} is known to this build"
        if revisions.known
        else f"revision {revisions.current} is not known to this build of forgea",
        expected=f"one of {revisions.history[0]} .. {revisions.head}",
        found=revisions.current,
        hint="run the forgea release that applied it, or upgrade forgea",
    )


def _at_head(revisions: AppliedRevisions) -> CheckResult:
    pending = list(revisions.pending()) if revisions.managed else list(revisions.history)
    at_head = revisions.current == revisions.head
    return judged(
        at_head,
        "migrations.at_head",
        "alembic_version",
        f"at head ({revisions.head})"
        if at_head
        else f"not at head: {revisions.current or 'no revision'}, head is {revisions.head}",
        expected=revisions.head,
        found={"current": revisions.current, "pending": pending},
        hint="see the runbook: backfills first, then `forgea migrate upgrade`",
    )


def _lifecycle_fingerprint(revisions: AppliedRevisions) -> CheckResult:
    check_id, obj = "migrations.lifecycle_fingerprint", "forgea_cli.lifecycle"
    frozen = newest_frozen_fingerprint(revisions.applied())
    if frozen is None:
        return skipped(check_id, obj, "no applied revision freezes the lifecycle trigger yet")
    revision, fingerprint = frozen
    return judged(
        fingerprint == lifecycle.fingerprint(),
        check_id,
        obj,
        f"lifecycle.py is the table frozen by {revision}"
        if fingerprint == lifecycle.fingerprint()
        else f"lifecycle.py differs from the table frozen by {revision}",
        expected=fingerprint,
        found=lifecycle.fingerprint(),
        hint="a change to lifecycle.py needs a new revision that re-freezes the trigger SQL",
    )


def frozen_fingerprints() -> dict[str, str]:
    """``LIFECYCLE_FINGERPRINT`` of every migration file that defines one, by revision (oldest first).

    Read from the files' syntax tree, not by importing them: what counts is what the file says.
    """
    scripts = {s.revision: s for s in migrations.script_directory().walk_revisions()}
    found = {}
    for revision in (r.revision for r in migrations.history()):
        value = fingerprint_in(Path(scripts[revision].path))
        if value is not None:
            found[revision] = value
    return found


def fingerprint_in(path: Path) -> str | None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            if FINGERPRINT_NAME in names and isinstance(node.value, ast.Constant):
                return str(node.value.value)
    return None


def newest_frozen_fingerprint(applied: tuple[str, ...]) -> tuple[str, str] | None:
    """(revision, fingerprint) of the newest applied revision that freezes the lifecycle table."""
    frozen = frozen_fingerprints()
    for revision in reversed(applied):
        if revision in frozen:
            return revision, frozen[revision]
    return None
