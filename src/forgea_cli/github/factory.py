"""Build the GitHub gateway from settings (PyGithub is imported only when a gateway is made)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forgea_cli.github.gateway import GitHubGateway
    from forgea_cli.github.pygithub_gateway import Pacer
    from forgea_cli.settings import Settings


def make_gateway(settings: Settings, *, pacer: Pacer | None = None, **options: Any) -> GitHubGateway:
    """A ``PyGithubGateway`` for ``settings.github_api_url``; ``options`` go to its constructor
    (``max_attempts``, ``max_wait_seconds``, ``sleep``, ``clock``, ``timeout``)."""
    from forgea_cli.github.pygithub_gateway import PyGithubGateway

    token = settings.github_token.get_secret_value() if settings.github_token else None
    return PyGithubGateway(settings.github_api_url, token, pacer=pacer, **options)
