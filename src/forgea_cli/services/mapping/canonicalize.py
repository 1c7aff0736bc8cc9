"""`mapping canonicalize`: the canonical form of repository URLs, or why each is rejected (pure,
no database)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from forgea_cli.urls import DEFAULT_WEB_HOST, RepoUrlRejected, parse_repo_url, redact_url


def canonicalize_urls(urls: Iterable[str], web_host: str = DEFAULT_WEB_HOST) -> list[dict[str, Any]]:
    """One record per input: the canonical URL, or the reason it is rejected. The input is shown
    masked (credentials, query and fragment), since URLs pasted from remotes may carry tokens."""
    return [_canonicalize(url, web_host) for url in urls]


def _canonicalize(url: str, web_host: str) -> dict[str, Any]:
    try:
        ref = parse_repo_url(url, web_host)
    except RepoUrlRejected as rejected:
        return {
            "input": rejected.url,
            "canonicalUrl": None,
            "owner": None,
            "name": None,
            "reason": rejected.reason.value,
            "detail": rejected.detail,
        }
    return {
        "input": redact_url(url),
        "canonicalUrl": ref.canonical_url,
        "owner": ref.owner,
        "name": ref.name,
        "reason": None,
        "detail": None,
    }
