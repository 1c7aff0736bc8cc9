"""The tool's exception hierarchy (standard library only).

Each family corresponds to one exit code of the CLI contract; the mapping itself lives in
``forgea_cli.cli.errors`` so the core never knows it is run from a terminal.
"""

from __future__ import annotations


class ForgeaError(Exception):
    """Base of every error the tool reports as a one-line message."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class OperationFailed(ForgeaError):
    """A check failed or an operation could not complete (exit 1)."""


class DataNotReady(OperationFailed):
    """A contract step refused because a backfill has not run yet (exit 1)."""


class InvalidInput(ForgeaError):
    """Bad usage or input (exit 2)."""


class NotFound(ForgeaError):
    """The named object does not exist (exit 3)."""


class Conflict(ForgeaError):
    """Illegal transition, concurrent update, idempotency mismatch, duplicate (exit 4)."""


class IllegalTransition(Conflict):
    pass


class PreconditionFailed(Conflict):
    pass


class ExpectedStatusMismatch(Conflict):
    pass


class ConcurrentUpdate(Conflict):
    pass


class IdempotencyMismatch(Conflict):
    pass


class InProgress(Conflict):
    pass


class GitHubError(ForgeaError):
    """GitHub refused or failed (exit 5)."""


class SchemaNotReady(OperationFailed):
    """The database is not at the revision this step needs (not adopted, not expanded) (exit 1)."""


class DatabaseUnreachable(ForgeaError):
    """The database cannot be reached: no server answers, or the connection was lost (exit 6)."""


class DatabaseAuthFailed(InvalidInput):
    """The server answered and refused the configured credentials: wrong password, unknown role,
    no pg_hba.conf entry, no CONNECT privilege (exit 2: the configuration is the bad input)."""


class DatabaseMissing(NotFound):
    """The server answered; the database the URL names does not exist (exit 3)."""
