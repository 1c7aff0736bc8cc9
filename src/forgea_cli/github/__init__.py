"""GitHub access: the gateway interface (PyGithub is imported only by ``pygithub_gateway``)."""

from forgea_cli.github.gateway import (
    GitHubAuthFailed,
    GitHubGateway,
    GitHubNotFound,
    GitHubRefused,
    GitHubUnavailable,
    RepoInfo,
    RepoNameTaken,
)

__all__ = [
    "GitHubAuthFailed",
    "GitHubGateway",
    "GitHubNotFound",
    "GitHubRefused",
    "GitHubUnavailable",
    "RepoInfo",
    "RepoNameTaken",
]
