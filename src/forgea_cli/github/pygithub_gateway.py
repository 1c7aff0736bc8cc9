"""The GitHub gateway over PyGithub — the only module of the tool that imports ``github``.

PyGithub's own retries and request spacing are switched off: every retry is ours (tenacity),
bounded, counted and slept through the injected ``sleep``, so tests run at full speed and a rate
limit is honoured exactly once. Requests go through PyGithub's ``Requester`` so that the paths and
bodies are exactly those of the REST/GraphQL contract.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

import requests
from github import Auth, Github, GithubException
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from forgea_cli.errors import InvalidInput
from forgea_cli.github.gateway import (
    GitHubAuthFailed,
    GitHubNotFound,
    GitHubRefused,
    GitHubUnavailable,
    HookDelivery,
    HookTarget,
    RepoInfo,
    RepoNameTaken,
)
from forgea_cli.redaction import scrub_text

log = logging.getLogger("forgea_cli.github")
T = TypeVar("T")

GRAPHQL_BATCH = 100
# GitHub's reset time has one-second resolution and clocks drift: wait a little past it.
RESET_MARGIN_SECONDS = 1.0
# GitHub asks for at least a minute before retrying a secondary limit that names no delay.
UNNAMED_RATE_LIMIT_FLOOR_SECONDS = 60.0
TRANSPORT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
GRAPHQL_REPO_FIELDS = (
    "databaseId name owner { login } nameWithOwner url isPrivate defaultBranchRef { name } "
    "templateRepository { nameWithOwner } parent { nameWithOwner }"
)


class Pacer(Protocol):
    def acquire(self) -> float: ...


@dataclass(frozen=True)
class RateLimit:
    kind: str  # "primary rate limit" or "secondary rate limit"
    wait_seconds: float | None  # None: GitHub named no delay, back off exponentially
    resets_at: float | None = None  # epoch seconds, primary limit only


class _Transient(Exception):
    """A failure worth retrying; ``wait_seconds`` is GitHub's own delay when it named one."""

    def __init__(self, reason: str, wait_seconds: float | None = None, backoff_floor: float = 1.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait_seconds = wait_seconds
        self.backoff_floor = backoff_floor


class PyGithubGateway:
    """``GitHubGateway`` implementation talking to ``api_url`` with PyGithub."""

    def __init__(
        self,
        api_url: str,
        token: str | None,
        *,
        max_attempts: int = 5,
        max_wait_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        timeout: int = 15,
        pacer: Pacer | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        quiet_pygithub_logging()
        self._github = Github(
            base_url=api_url.rstrip("/"),
            auth=Auth.Token(token) if token else None,
            timeout=timeout,
            per_page=100,
            retry=None,  # Requester then uses requests' default: no retry at all
            seconds_between_requests=None,  # pacing is ours (CreationPacer), not a blanket delay
            seconds_between_writes=None,
        )
        self._requester = self._github.requester
        self._graphql_url = graphql_url_for(api_url)
        self._secrets = [token] if token else []
        self._max_attempts = max_attempts
        self._max_wait = max_wait_seconds
        self._sleep = sleep
        self._clock = clock
        self._pacer = pacer

    def close(self) -> None:
        self._github.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- reads -------------------------------------------------------------------------------------

    def get_repo(self, full_name: str) -> RepoInfo | None:
        try:
            _, data = self._request(f"get {full_name}", "GET", repo_path(full_name))
        except GitHubNotFound:
            return None
        return repo_info_from_rest(data)

    def get_repo_by_id(self, repo_id: int) -> RepoInfo | None:
        try:
            _, data = self._request(f"get repository id {repo_id}", "GET", f"/repositories/{int(repo_id)}")
        except GitHubNotFound:
            return None
        return repo_info_from_rest(data)

    def list_org_repos(self, org: str) -> list[RepoInfo]:
        url: str | None = f"/orgs/{quote(org)}/repos"
        parameters: dict[str, Any] | None = {"per_page": 100, "type": "all"}
        repos: list[RepoInfo] = []
        while url is not None:
            headers, page = self._request(f"list repositories of {org}", "GET", url, parameters=parameters)
            repos.extend(repo_info_from_rest(item) for item in page)
            url, parameters = next_page_url(headers.get("link")), None
        return repos

    # -- webhook deliveries: PyGithub 2.x lists and gets them (as objects, without the status filter or a
    # page size) but cannot redeliver, so all three go through its Requester like every call here.

    def list_hook_deliveries(
        self, target: HookTarget, hook_id: int, *, since: datetime | None = None, status: str | None = None
    ) -> list[HookDelivery]:
        url: str | None = f"{hooks_path(target, hook_id)}/deliveries"
        parameters: dict[str, Any] | None = {"per_page": 100, **({"status": status} if status else {})}
        found: list[HookDelivery] = []
        what = f"list deliveries of hook {hook_id} of {target.describe()}"
        while url is not None:
            headers, page = self._request(what, "GET", url, parameters=parameters)
            items = [hook_delivery_from_rest(item) for item in page or []]
            found.extend(items)
            if since is not None and items and all(item.delivered_at < since for item in items):
                break
            url, parameters = next_page_url(headers.get("link")), None
        return found

    def get_hook_delivery(self, target: HookTarget, hook_id: int, delivery_id: int) -> dict[str, Any]:
        what = f"get delivery {delivery_id} of hook {hook_id} of {target.describe()}"
        _, data = self._request(what, "GET", f"{hooks_path(target, hook_id)}/deliveries/{int(delivery_id)}")
        return data

    def redeliver_hook_delivery(self, target: HookTarget, hook_id: int, delivery_id: int) -> None:
        what = f"redeliver delivery {delivery_id} of hook {hook_id} of {target.describe()}"
        path = f"{hooks_path(target, hook_id)}/deliveries/{int(delivery_id)}/attempts"
        self._request(what, "POST", path, paced=True)

    def lookup_many(self, full_names: Sequence[str]) -> dict[str, RepoInfo | None]:
        found: dict[str, RepoInfo | None] = {name: None for name in full_names}
        queryable = [name for name in found if is_full_name(name)]
        for start in range(0, len(queryable), GRAPHQL_BATCH):
            found.update(self._lookup_batch(queryable[start : start + GRAPHQL_BATCH]))
        return found

    # -- writes ------------------------------------------------------------------------------------

    def create_from_template(
        self, template_full_name: str, owner: str, name: str, *, private: bool = True
    ) -> RepoInfo:
        body = {"owner": owner, "name": name, "private": private, "include_all_branches": False}
        what = f"generate {owner}/{name} from template {template_full_name}"
        path = f"{repo_path(template_full_name)}/generate"
        _, data = self._request(what, "POST", path, input=body, paced=True)
        return repo_info_from_rest(data)

    def delete_repo(self, full_name: str) -> bool:
        # After a lost response our retry sees 404 and reports False: absent either way.
        try:
            self._request(f"delete {full_name}", "DELETE", repo_path(full_name))
        except GitHubNotFound:
            return False
        return True

    # -- internals ---------------------------------------------------------------------------------

    def _lookup_batch(self, names: list[str]) -> dict[str, RepoInfo | None]:
        aliases = {f"r{i}": name for i, name in enumerate(names)}
        body = self._graphql(f"look up {len(names)} repositories", graphql_lookup_query(aliases))
        data = body.get("data") or {}
        failures = graphql_errors_by_alias(body)
        found: dict[str, RepoInfo | None] = {}
        for alias, name in aliases.items():
            node = data.get(alias)
            error = failures.get(alias)
            if node is None and error is not None and error.get("type") != "NOT_FOUND":
                message = error.get("message") or error.get("type")
                raise GitHubRefused(self._say(f"look up {name}", str(message)))
            found[name] = repo_info_from_graphql(node) if node else None
        if not data and body.get("errors") and not failures:
            raise GitHubRefused(self._say("look up repositories", graphql_first_message(body)))
        return found

    def _graphql(self, what: str, query: str) -> dict[str, Any]:
        def post() -> dict[str, Any]:
            payload = {"query": query}
            headers, body = self._requester.requestJsonAndCheck("POST", self._graphql_url, input=payload)
            if graphql_is_rate_limited(body):
                limit = rate_limit_of(403, headers, "api rate limit exceeded", self._clock())
                raise self._transient_for(what, limit or RateLimit("primary rate limit", None))
            return body

        return self._retrying(what, post)

    def _request(
        self,
        what: str,
        verb: str,
        url: str,
        *,
        parameters: dict[str, Any] | None = None,
        input: dict[str, Any] | None = None,
        paced: bool = False,
    ) -> tuple[dict[str, Any], Any]:
        def send() -> tuple[dict[str, Any], Any]:
            if paced and self._pacer is not None:
                self._pacer.acquire()
            return self._requester.requestJsonAndCheck(verb, url, parameters=parameters, input=input)

        return self._retrying(what, send)

    def _retrying(self, what: str, call: Callable[[], T]) -> T:
        retrying = Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait_before_retry,
            retry=retry_if_exception_type(_Transient),
            sleep=self._sleep,
            reraise=True,
            before_sleep=lambda state: self._log_retry(what, state),
        )
        try:
            return retrying(self._attempt, what, call)
        except _Transient as exc:
            attempts = f"{self._max_attempts} attempt{'s' if self._max_attempts > 1 else ''}"
            raise GitHubUnavailable(self._say(what, f"{exc.reason}; gave up after {attempts}")) from None

    def _attempt(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except GithubException as exc:
            raise self._error_for(what, exc) from exc
        except TRANSPORT_ERRORS as exc:
            # Not chained: requests' exceptions carry the prepared request, Authorization included.
            raise _Transient(f"connection failed ({type(exc).__name__})") from None

    def _error_for(self, what: str, exc: GithubException) -> Exception:
        status = exc.status
        headers = {k.lower(): str(v) for k, v in (exc.headers or {}).items()}
        message = github_message(exc.data)
        limit = rate_limit_of(status, headers, message, self._clock())
        if limit is not None:
            return self._transient_for(what, limit)
        if status >= 500:
            return _Transient(f"HTTP {status} {message}".rstrip())
        detail = self._say(what, f"{message or 'no message'} (HTTP {status})")
        if status in (401, 403):
            return GitHubAuthFailed(detail)
        if status == 404:
            return GitHubNotFound(detail)
        if status == 422 and says_name_exists(exc.data):
            return RepoNameTaken(self._say(what, "the name already exists on this account (HTTP 422)"))
        if 300 <= status < 400:
            moved = headers.get("location", "elsewhere")
            return GitHubRefused(self._say(what, f"repository moved to {moved}; use its current name"))
        return GitHubRefused(detail)

    def _transient_for(self, what: str, limit: RateLimit) -> _Transient:
        if limit.wait_seconds is None:
            return _Transient(limit.kind, backoff_floor=UNNAMED_RATE_LIMIT_FLOOR_SECONDS)
        if limit.wait_seconds > self._max_wait:
            raise GitHubUnavailable(self._say(what, describe_too_long(limit, self._max_wait)))
        return _Transient(f"{limit.kind}, waiting {limit.wait_seconds:.0f}s", wait_seconds=limit.wait_seconds)

    def _wait_before_retry(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.wait_seconds is not None:
            return exc.wait_seconds
        floor = exc.backoff_floor if isinstance(exc, _Transient) else 1.0
        backoff = wait_exponential_jitter(multiplier=floor, max=self._max_wait, jitter=min(1.0, floor))
        return backoff(state)

    def _log_retry(self, what: str, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        reason = exc.reason if isinstance(exc, _Transient) else type(exc).__name__
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "GitHub %s: %s; retry %d/%d in %.1fs",
            what,
            self._scrub(reason),
            state.attempt_number,
            self._max_attempts - 1,
            delay,
        )

    def _say(self, what: str, detail: str) -> str:
        """The one-line message of every error raised here: operation, repo, reason, no secret."""
        return self._scrub(f"GitHub {what}: {detail}")

    def _scrub(self, text: str) -> str:
        return " ".join(scrub_text(text, self._secrets).split())


# -- pure helpers (no I/O) -------------------------------------------------------------------------


def graphql_url_for(api_url: str) -> str:
    base = api_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base.removesuffix("/v3") + "/graphql"
    return base + "/graphql"


def quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def is_full_name(full_name: str) -> bool:
    owner, slash, name = full_name.partition("/")
    return bool(owner and slash and name) and "/" not in name


def repo_path(full_name: str) -> str:
    if not is_full_name(full_name):
        raise InvalidInput(f"not a repository full name (owner/name): {full_name!r}")
    owner, _, name = full_name.partition("/")
    return f"/repos/{quote(owner)}/{quote(name)}"


def hooks_path(target: HookTarget, hook_id: int) -> str:
    if target.kind == "org":
        return f"/orgs/{quote(target.name)}/hooks/{int(hook_id)}"
    return f"{repo_path(target.name)}/hooks/{int(hook_id)}"


def hook_delivery_from_rest(data: dict[str, Any]) -> HookDelivery:
    delivered = datetime.fromisoformat(str(data["delivered_at"]).replace("Z", "+00:00"))
    return HookDelivery(
        id=int(data["id"]),
        guid=str(data["guid"]),
        delivered_at=delivered if delivered.tzinfo else delivered.replace(tzinfo=UTC),
        redelivery=bool(data.get("redelivery")),
        status=str(data.get("status") or ""),
        status_code=int(data.get("status_code") or 0),
        event=str(data.get("event") or ""),
        action=data.get("action"),
        repository_id=data.get("repository_id"),
    )


def next_page_url(link_header: str | None) -> str | None:
    for part in (link_header or "").split(","):
        target, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", ""):
            return target.strip().strip("<>")
    return None


def full_name_of(related: Any) -> str | None:
    return related.get("full_name") if isinstance(related, dict) else None


def repo_info_from_rest(data: dict[str, Any]) -> RepoInfo:
    return RepoInfo(
        id=int(data["id"]),
        owner=data["owner"]["login"],
        name=data["name"],
        full_name=data["full_name"],
        html_url=data["html_url"],
        default_branch=data.get("default_branch"),
        private=bool(data.get("private", False)),
        template_full_name=full_name_of(data.get("template_repository")),
        parent_full_name=full_name_of(data.get("parent")),
    )


def repo_info_from_graphql(node: dict[str, Any]) -> RepoInfo:
    def name_with_owner(related: Any) -> str | None:
        return related.get("nameWithOwner") if isinstance(related, dict) else None

    return RepoInfo(
        id=int(node["databaseId"]),
        owner=node["owner"]["login"],
        name=node["name"],
        full_name=node["nameWithOwner"],
        html_url=node["url"],
        default_branch=(node.get("defaultBranchRef") or {}).get("name"),
        private=bool(node.get("isPrivate", False)),
        template_full_name=name_with_owner(node.get("templateRepository")),
        parent_full_name=name_with_owner(node.get("parent")),
    )


def graphql_lookup_query(aliases: dict[str, str]) -> str:
    def field(alias: str, full_name: str) -> str:
        owner, _, name = full_name.partition("/")
        # json.dumps yields a valid GraphQL string literal (same escapes), so names cannot inject.
        arguments = f"owner: {json.dumps(owner)}, name: {json.dumps(name)}"
        return f"{alias}: repository({arguments}) {{ {GRAPHQL_REPO_FIELDS} }}"

    return "query { " + " ".join(field(alias, name) for alias, name in aliases.items()) + " }"


def graphql_errors_by_alias(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    by_alias: dict[str, dict[str, Any]] = {}
    for error in body.get("errors") or []:
        path = error.get("path") if isinstance(error, dict) else None
        if path:
            by_alias[str(path[0])] = error
    return by_alias


def graphql_first_message(body: dict[str, Any]) -> str:
    errors = body.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
    return str(first.get("message") or first.get("type") or "GraphQL error")


def graphql_is_rate_limited(body: Any) -> bool:
    errors = body.get("errors") if isinstance(body, dict) else None
    return any(isinstance(e, dict) and e.get("type") == "RATE_LIMITED" for e in errors or [])


def github_message(data: Any) -> str:
    if isinstance(data, dict) and data.get("message"):
        return " ".join(str(data["message"]).split())
    return ""


def says_name_exists(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    texts = [str(data.get("message", ""))]
    texts += [str(e.get("message", "")) if isinstance(e, dict) else str(e) for e in data.get("errors") or []]
    return any("name already exists" in text.lower() for text in texts)


def looks_like_rate_limit(message: str) -> bool:
    lowered = message.lower()
    return (
        lowered.startswith("api rate limit exceeded")
        or "secondary rate limit" in lowered
        or "abuse detection" in lowered
        or lowered.endswith("please wait a few minutes before you try again.")
    )


def rate_limit_of(status: int, headers: dict[str, str], message: str, now: float) -> RateLimit | None:
    """GitHub's documented order: Retry-After, then x-ratelimit-remaining 0 + reset, then back off."""
    if status not in (403, 429):
        return None
    retry_after = as_float(headers.get("retry-after"))
    if retry_after is not None:
        return RateLimit("secondary rate limit", max(retry_after, 0.0))
    if headers.get("x-ratelimit-remaining") == "0":
        reset = as_float(headers.get("x-ratelimit-reset"))
        if reset is None:
            return RateLimit("primary rate limit", None)
        return RateLimit("primary rate limit", max(reset - now, 0.0) + RESET_MARGIN_SECONDS, reset)
    if status == 429 or looks_like_rate_limit(message):
        return RateLimit("secondary rate limit", None)
    return None


def describe_too_long(limit: RateLimit, max_wait: float) -> str:
    wait = f"{limit.wait_seconds:.0f}s"
    if limit.resets_at is not None:
        at = datetime.fromtimestamp(limit.resets_at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{limit.kind} exhausted; it resets at {at} (in {wait}, more than the {max_wait:.0f}s allowed)"
    return f"{limit.kind}; GitHub asks to wait {wait}, more than the {max_wait:.0f}s allowed"


def as_float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


# -- PyGithub logging --------------------------------------------------------------------------------

_PYGITHUB_REQUEST_FORMAT = "%s %s://%s%s %s %s ==> %i %s %s"


class _WithoutHeaders(logging.Filter):
    """Rewrites PyGithub's DEBUG request records so they carry no headers and no bodies."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if record.msg == _PYGITHUB_REQUEST_FORMAT and len(args) == 9:
            verb, scheme, host, url, _headers, _input, status, _response_headers, _output = args
            record.msg, record.args = "%s %s://%s%s ==> %s", (verb, scheme, host, url, status)
            return True
        # An unknown format carrying a dict may be a header dump from another PyGithub version.
        return not any(isinstance(arg, dict) for arg in args)


def quiet_pygithub_logging() -> None:
    """No header dumps, and no chatter on stderr: a ``--json`` run must print only its document."""
    requester_logger = logging.getLogger("github.Requester")
    if not any(isinstance(f, _WithoutHeaders) for f in requester_logger.filters):
        requester_logger.addFilter(_WithoutHeaders())
    # PyGithub sets "github" to INFO with its own stderr handler at import (one line per redirect);
    # drop both so its records flow, at WARNING and above, to whatever the application configured.
    package_logger = logging.getLogger("github")
    for handler in list(package_logger.handlers):
        if type(handler) is logging.StreamHandler and handler.formatter is None:
            package_logger.removeHandler(handler)
    if package_logger.level == logging.INFO:
        package_logger.setLevel(logging.WARNING)
