"""Which revisions a database has applied, so a check can say "skipped: needs revision X"."""

from __future__ import annotations

from dataclasses import dataclass

from forgea_cli.services.verify.results import CheckResult, skipped

# The revisions that bring the objects later checks need (names of files in migrations/versions).
BASELINE = "0001_baseline"
EXPAND = "0002_f6_expand"  # LabVersion, VerificationAttempt, GitHubRepoMapping, IdempotencyKey, new columns
LIFECYCLE = "0004_f6_lifecycle"  # the trigger with preconditions and completedAt stamping
CONTRACT = "0006_f6_contract_checks"  # backfills are done: gaps they close become failures
ACTIVE_INDEX = "0008_f6_contract_active_session"  # one active session per student and lab


@dataclass(frozen=True)
class AppliedRevisions:
    """The database's revision placed in this build's history (oldest first)."""

    current: str | None
    history: tuple[str, ...]

    @property
    def head(self) -> str:
        return self.history[-1]

    @property
    def known(self) -> bool:
        return self.current is None or self.current in self.history

    @property
    def managed(self) -> bool:
        return self.current is not None

    def has(self, revision: str) -> bool:
        """Whether ``revision`` is applied. A revision unknown to this build is treated as newer than head."""
        if self.current is None:
            return False
        if not self.known:
            return True
        return self.history.index(self.current) >= self.history.index(revision)

    def applied(self) -> tuple[str, ...]:
        if self.current is None:
            return ()
        if not self.known:
            return self.history
        return self.history[: self.history.index(self.current) + 1]

    def pending(self) -> tuple[str, ...]:
        if not self.known:
            return ()
        return self.history[len(self.applied()) :]

    def needs(self, revision: str, check_id: str, obj: str) -> CheckResult | None:
        """A skipped result when ``revision`` is not applied yet, else None."""
        return None if self.has(revision) else self.skip(revision, check_id, obj)

    def skip(self, revision: str, check_id: str, obj: str) -> CheckResult:
        return skipped(
            check_id,
            obj,
            f"skipped: needs revision {revision} (database is at {self.current or 'no revision'})",
            hint=f"`forgea migrate upgrade {revision}` (after the backfills it needs)",
        )
