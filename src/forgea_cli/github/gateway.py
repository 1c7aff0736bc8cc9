"""The GitHub port: what the services need from GitHub, and the errors it may raise.

Standard library only. The PyGithub implementation lives in ``pygithub_gateway``; tests and the
services depend on this interface alone. A gateway holds connections: whoever builds one (the CLI)
closes it, ``with gateway:`` or ``gateway.close()``; the services it is handed never do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

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

    def close(self) -> None:
        """Release the connections; calling it again is harmless."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Closes the gateway, whatever the block did."""
        ...
