"""The GitHub port: what the services need from GitHub, and the errors it may raise.

Standard library only. The PyGithub implementation lives in ``pygithub_gateway``; tests and the
services depend on this interface alone. A gateway holds connections: whoever builds one (the CLI)
closes it, ``with gateway:`` or ``gateway.close()``; the services it is handed never do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Protocol, Self

from forgea_cli.errors import GitHubError


@dataclass(frozen=True)
class RepoInfo:
    id: int
    owner: str
    name: str
    full_name: str
    html_url: str
    default_branch: str | None
    private: bool
    template_full_name: str | None  # template_repository.full_name when generated from a template
    parent_full_name: str | None  # parent.full_name when it is a fork


@dataclass(frozen=True)
class HookTarget:
    """Whose webhook: an organization's (``name`` its login) or a repository's (``owner/name``)."""

    kind: Literal["org", "repo"]
    name: str

    def describe(self) -> str:
        return f"{'organization' if self.kind == 'org' else 'repository'} {self.name}"


@dataclass(frozen=True)
class HookDelivery:
    """One attempt to deliver an event to a hook (GitHub's "hook-delivery-item"); the attempts of one
    event share ``guid`` (X-GitHub-Delivery), each has its own ``id``."""

    id: int
    guid: str
    delivered_at: datetime  # aware, UTC
    redelivery: bool
    status: str  # "OK" when the receiver answered 2xx; anything else is a failed attempt
    status_code: int
    event: str
    action: str | None
    repository_id: int | None

    @property
    def succeeded(self) -> bool:
        return self.status == "OK"


class RepoNameTaken(GitHubError):
    """422 "name already exists on this account": the caller may look the repo up and adopt it."""


class GitHubNotFound(GitHubError):
    """The repository (or template, or fork source) does not exist or is not visible to the token."""


class GitHubAuthFailed(GitHubError):
    """401, or 403 that is not a rate limit: the token is missing, wrong or lacks a permission."""

    hint = "check FORGEA_GITHUB_TOKEN and its scopes"


class GitHubUnavailable(GitHubError):
    """5xx, timeouts, lost connections or rate limits still in force after the bounded retries."""


class GitHubRefused(GitHubError):
    """Any other 4xx: GitHub understood the request and said no."""


class GitHubGateway(Protocol):
    def get_repo(self, full_name: str) -> RepoInfo | None:
        """The repository, following renames; None when GitHub answers 404."""
        ...

    def get_repo_by_id(self, repo_id: int) -> RepoInfo | None:
        """GET /repositories/{id}; None when GitHub answers 404."""
        ...

    def create_from_template(
        self, template_full_name: str, owner: str, name: str, *, private: bool = True
    ) -> RepoInfo: ...

    def delete_repo(self, full_name: str) -> bool:
        """True when deleted, False when it was already absent (404)."""
        ...

    def lookup_many(self, full_names: Sequence[str]) -> dict[str, RepoInfo | None]:
        """Batched lookup; keys are the names as given, None means not found."""
        ...

    def list_org_repos(self, org: str) -> list[RepoInfo]: ...

    def list_hook_deliveries(
        self, target: HookTarget, hook_id: int, *, since: datetime | None = None, status: str | None = None
    ) -> list[HookDelivery]:
        """GET …/hooks/{hook_id}/deliveries, every page (cursor pagination), newest first; stops after
        the first page wholly older than ``since``. ``status``: "success" or "failure" (GitHub's filter)."""
        ...

    def get_hook_delivery(self, target: HookTarget, hook_id: int, delivery_id: int) -> dict[str, Any]:
        """GET …/hooks/{hook_id}/deliveries/{delivery_id}: the delivery object, request and response."""
        ...

    def redeliver_hook_delivery(self, target: HookTarget, hook_id: int, delivery_id: int) -> None:
        """POST …/hooks/{hook_id}/deliveries/{delivery_id}/attempts (GitHub answers 202)."""
        ...

    def close(self) -> None:
        """Release the connections; calling it again is harmless."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Closes the gateway, whatever the block did."""
        ...
