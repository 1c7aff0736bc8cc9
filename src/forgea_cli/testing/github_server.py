"""A fake GitHub (REST + GraphQL subset) served over real HTTP on 127.0.0.1, with fault knobs.

In-process::

    with FakeGitHub(token="t") as gh:
        gh.add_repo("forgea-labs/lab-template", is_template=True)
        gateway = PyGithubGateway(gh.url, "t")

Standalone (for a benchmark or a subprocess)::

    python -m forgea_cli.testing.github_server --port 8765 --template forgea-labs/lab-template

Response bodies are shaped like the real ones kept in ``../shared/corpus/github-rest/`` (read at
import, never copied here); without the corpus a minimal built-in shape is used and
``CORPUS_AVAILABLE`` is False so tests that compare shapes can skip.
"""

from __future__ import annotations

import argparse
import copy
import csv
import functools
import http
import json
import math
import re
import signal
import socket
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from forgea_cli.testing.corpus import corpus_dir

CORPUS_DIR = corpus_dir()
REST_DIR = CORPUS_DIR / "github-rest"
FIRST_REPO_ID = 700000001
CREATION_OPERATIONS = frozenset({"generate", "fork"})
API_DOCS = "https://docs.github.com/rest"

# -- corpus ------------------------------------------------------------------------------------------

_BUILTIN_REPO: dict[str, Any] = {
    "id": 1,
    "node_id": "R_1",
    "name": "Hello-World",
    "full_name": "octocat/Hello-World",
    "owner": {
        "login": "octocat",
        "id": 1,
        "node_id": "U_1",
        "type": "User",
        "url": "https://api.github.com/users/octocat",
        "html_url": "https://github.com/octocat",
        "site_admin": False,
    },
    "private": False,
    "html_url": "https://github.com/octocat/Hello-World",
    "description": None,
    "fork": False,
    "url": "https://api.github.com/repos/octocat/Hello-World",
    "clone_url": "https://github.com/octocat/Hello-World.git",
    "ssh_url": "git@github.com:octocat/Hello-World.git",
    "default_branch": "main",
    "is_template": False,
    "visibility": "public",
    "archived": False,
    "disabled": False,
    "created_at": "2011-01-26T19:01:12Z",
    "updated_at": "2011-01-26T19:14:43Z",
    "pushed_at": "2011-01-26T19:06:43Z",
}


def corpus_file(name: str) -> Path:
    return REST_DIR / name


def _load_json(name: str, fallback: Any) -> Any:
    try:
        return json.loads(corpus_file(name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return copy.deepcopy(fallback)


def _generate_name_exists_body() -> dict[str, Any]:
    """The /generate 422 as printed in a public issue (errors-observed-messages.tsv)."""
    body = {"message": "Could not clone: Name already exists on this account", "documentation_url": API_DOCS}
    try:
        with corpus_file("errors-observed-messages.tsv").open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                if row["status"] == "422" and row["path"].endswith("/generate"):
                    body = {"message": row["message"], "documentation_url": row["documentation_url"]}
    except (OSError, KeyError):
        pass
    return {**body, "status": "422"}


CORPUS_FILES = (
    "repos-get.200.openapi.json",
    "repos-create-using-template.201.openapi.json",
    "repos-create-fork.202.openapi.json",
    "repos-get.404.recorded.json",
    "repos-get.301.renamed.recorded.json",
    "repos-create-for-authenticated-user.422.name-exists.2025.observed.json",
    "issues-create-label.422.validation-failed.recorded.json",
    "rate-limit.403.primary.legacy-2013.recorded.json",
    "rate-limit.403.secondary.observed.json",
    "rate-limit-get.200.openapi.json",
    "errors-observed-messages.tsv",
    "hook-deliveries-list.200.openapi.json",
    "hook-deliveries-get.200.openapi.json",
)
CORPUS_AVAILABLE = all(corpus_file(name).is_file() for name in CORPUS_FILES)
CORPUS_MISSING_REASON = f"corpus not found at {REST_DIR} (set FORGEA_CORPUS_DIR to its folder)"

REPO_GET_BODY = _load_json("repos-get.200.openapi.json", _BUILTIN_REPO)
REPO_GENERATED_BODY = _load_json("repos-create-using-template.201.openapi.json", _BUILTIN_REPO)
REPO_FORKED_BODY = _load_json("repos-create-fork.202.openapi.json", _BUILTIN_REPO)
NOT_FOUND_BODY = _load_json(
    "repos-get.404.recorded.json", {"message": "Not Found", "documentation_url": API_DOCS}
)
MOVED_BODY = _load_json("repos-get.301.renamed.recorded.json", {"message": "Moved Permanently", "url": ""})
FORK_NAME_EXISTS_BODY = _load_json(
    "repos-create-for-authenticated-user.422.name-exists.2025.observed.json",
    {
        "message": "Repository creation failed.",
        "errors": [
            {
                "resource": "Repository",
                "code": "custom",
                "field": "name",
                "message": "name already exists on this account",
            }
        ],
        "documentation_url": API_DOCS,
        "status": "422",
    },
)
GENERATE_NAME_EXISTS_BODY = _generate_name_exists_body()
VALIDATION_FAILED_BODY = _load_json(
    "issues-create-label.422.validation-failed.recorded.json", {"message": "Validation Failed", "errors": []}
)
PRIMARY_RATE_LIMIT_BODY = _load_json(
    "rate-limit.403.primary.legacy-2013.recorded.json", {"message": "API rate limit exceeded"}
)
SECONDARY_RATE_LIMIT_BODY = _load_json(
    "rate-limit.403.secondary.observed.json",
    {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."},
)
RATE_LIMIT_OVERVIEW_BODY = _load_json("rate-limit-get.200.openapi.json", {"resources": {}, "rate": {}})
BAD_CREDENTIALS_BODY = {"message": "Bad credentials", "documentation_url": API_DOCS, "status": "401"}
_BUILTIN_DELIVERY_ITEM: dict[str, Any] = {
    "id": 1,
    "guid": "0b989ba4-242f-11e5-81e1-c7b6966d2516",
    "delivered_at": "2019-06-03T00:57:16Z",
    "redelivery": False,
    "duration": 0.27,
    "status": "OK",
    "status_code": 200,
    "event": "issues",
    "action": "opened",
    "installation_id": None,
    "repository_id": None,
    "throttled_at": None,
}
HOOK_DELIVERY_ITEM_BODY = _load_json("hook-deliveries-list.200.openapi.json", [_BUILTIN_DELIVERY_ITEM])[0]
HOOK_DELIVERY_BODY = _load_json(
    "hook-deliveries-get.200.openapi.json",
    {
        **_BUILTIN_DELIVERY_ITEM,
        "url": "https://www.example.com",
        "request": {"headers": {}, "payload": {}},
        "response": {"headers": {}, "payload": "ok"},
    },
)

# -- state -------------------------------------------------------------------------------------------


@dataclass
class FakeRepo:
    id: int
    owner: str
    name: str
    private: bool = False
    is_template: bool = False
    template_id: int | None = None
    parent_id: int | None = None
    default_branch: str = "main"
    created_at: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    gets_until_ready: int = 0  # a new fork answers 404 to this many GETs, like GitHub's async forks

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class FakeDelivery:
    """One attempt to deliver an event to a hook; the attempts of one event share ``guid``."""

    id: int
    guid: str
    event: str
    action: str | None
    status_code: int
    delivered_at: datetime
    redelivery: bool = False
    repository_id: int | None = None
    payload: dict[str, Any] | None = None
    redelivers: int | None = None  # the attempt id a redelivery was asked from

    @property
    def status(self) -> str:
        if 200 <= self.status_code < 300:
            return "OK"
        return "failed to connect" if self.status_code == 0 else f"Invalid HTTP Response: {self.status_code}"


class Exchange(NamedTuple):
    """A request and the answer the fake gave (for the contract tests); lost answers are not kept."""

    operation: str
    request: Request
    status: int
    headers: dict[str, str]
    body: Any


class LoggedRequest(NamedTuple):
    method: str
    path: str
    status: int  # 0 when the response was deliberately lost


@dataclass(frozen=True)
class Fault:
    kind: str  # "status" | "lose" | "name_exists" | "primary" | "secondary" | "pass" (no fault)
    status: int = 500
    retry_after: float | None = None
    reset_in: float = 60.0
    reset_at: float | None = None
    as_graphql_error: bool = False


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    api_base: str


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    lose: bool = False


_SEGMENT = r"([^/]+)"
ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("GET", re.compile(rf"^/repos/{_SEGMENT}/{_SEGMENT}/?$"), "get_repo"),
    ("DELETE", re.compile(rf"^/repos/{_SEGMENT}/{_SEGMENT}/?$"), "delete"),
    ("GET", re.compile(r"^/repositories/(\d+)/?$"), "get_repo_by_id"),
    ("POST", re.compile(rf"^/repos/{_SEGMENT}/{_SEGMENT}/generate$"), "generate"),
    ("POST", re.compile(rf"^/repos/{_SEGMENT}/{_SEGMENT}/forks$"), "fork"),
    ("GET", re.compile(rf"^/orgs/{_SEGMENT}/repos$"), "list_org_repos"),
    ("POST", re.compile(r"^/graphql$"), "graphql"),
    ("GET", re.compile(r"^/rate_limit$"), "rate_limit"),
    ("GET", re.compile(r"^/user$"), "user"),
    ("GET", re.compile(rf"^/orgs/{_SEGMENT}/hooks/(\d+)/deliveries$"), "list_hook_deliveries"),
    ("GET", re.compile(rf"^/repos/{_SEGMENT}/{_SEGMENT}/hooks/(\d+)/deliveries$"), "list_hook_deliveries"),
    ("GET", re.compile(rf"^/orgs/{_SEGMENT}/hooks/(\d+)/deliveries/(\d+)$"), "get_hook_delivery"),
    ("GET", re.compile(rf"^/repos/{_SEGMENT}/{_SEGMENT}/hooks/(\d+)/deliveries/(\d+)$"), "get_hook_delivery"),
    (
        "POST",
        re.compile(rf"^/orgs/{_SEGMENT}/hooks/(\d+)/deliveries/(\d+)/attempts$"),
        "redeliver_hook_delivery",
    ),
    (
        "POST",
        re.compile(rf"^/repos/{_SEGMENT}/{_SEGMENT}/hooks/(\d+)/deliveries/(\d+)/attempts$"),
        "redeliver_hook_delivery",
    ),
)


def route(method: str, path: str) -> tuple[str, list[str]]:
    for verb, pattern, operation in ROUTES:
        match = pattern.match(path)
        if verb == method and match:
            return operation, [unquote(part) for part in match.groups()]
    return "unknown", []


class FakeGitHub:
    """The fake's state, knobs and HTTP server. Every public method is thread-safe."""

    def __init__(
        self,
        *,
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        web_url: str = "https://github.com",
        user_login: str = "forgea-bot",
    ) -> None:
        self.token = token
        self.web_url = web_url.rstrip("/")
        self.user_login = user_login
        self.latency_seconds = 0.0
        self._host, self._port = host, port
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._open_connections = 0  # survives reset(): it counts sockets, not state
        self._clear()

    def _clear(self) -> None:
        self._repos: dict[int, FakeRepo] = {}
        self._by_name: dict[str, int] = {}
        self._moved: dict[str, int] = {}
        self._next_id = FIRST_REPO_ID
        self._owner_ids: dict[str, int] = {}
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._log: list[tuple[str, LoggedRequest]] = []
        self._exchanges: deque[Exchange] = deque(maxlen=10_000)
        self._fork_ready_after = 0
        self._cap_per_minute: int | None = None
        self._cap_window_seconds = 60.0
        self._creations: deque[float] = deque()
        self._refused_by_cap = 0
        self._deliveries: dict[str, list[FakeDelivery]] = defaultdict(list)  # hook key -> attempts
        self._next_delivery_id = 90000001
        self._redelivery_status_code = 200

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        if self._server is not None:
            return self
        self._server = _Server((self._host, self._port), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        serve = functools.partial(self._server.serve_forever, poll_interval=0.02)  # fast stop()
        self._thread = threading.Thread(target=serve, name="fake-github", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeGitHub is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        """Standalone use: serve on the calling thread until ``stop()`` (e.g. from a signal)."""
        self.start()
        assert self._thread is not None
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    # -- state helpers -----------------------------------------------------------------------------

    def add_repo(
        self,
        full_name: str,
        *,
        is_template: bool = False,
        private: bool = False,
        default_branch: str = "main",
    ) -> FakeRepo:
        owner, name = _split(full_name)
        with self._lock:
            if self._find(full_name) is not None:
                raise ValueError(f"{full_name} already exists in the fake")
            repo = self._create(owner, name, private=private, default_branch=default_branch)
            repo.is_template = is_template
            return replace(repo)

    def rename(self, full_name: str, new_name: str) -> FakeRepo:
        """Rename (or, with ``owner/name``, transfer) keeping the id; the old name answers 301."""
        with self._lock:
            repo = self._find(full_name)
            if repo is None:
                raise KeyError(full_name)
            owner, name = _split(new_name) if "/" in new_name else (repo.owner, new_name)
            if self._find(f"{owner}/{name}") is not None:
                raise ValueError(f"{owner}/{name} already exists in the fake")
            del self._by_name[repo.full_name.lower()]
            self._moved[repo.full_name.lower()] = repo.id
            repo.owner, repo.name = owner, name
            self._by_name[repo.full_name.lower()] = repo.id
            self._moved.pop(repo.full_name.lower(), None)
            return replace(repo)

    def repos(self) -> list[FakeRepo]:
        with self._lock:
            return [replace(repo) for repo in sorted(self._repos.values(), key=lambda r: r.id)]

    def get(self, full_name: str) -> FakeRepo | None:
        with self._lock:
            repo = self._find(full_name)
            return replace(repo) if repo else None

    def reset(self) -> None:
        with self._lock:
            self._clear()
            self.latency_seconds = 0.0

    # -- hook deliveries -----------------------------------------------------------------------------

    def add_hook_delivery(
        self,
        hook: str,
        hook_id: int,
        *,
        guid: str | None = None,
        event: str = "push",
        action: str | None = None,
        status_code: int = 200,
        delivered_at: datetime | None = None,
        redelivery: bool = False,
        repository_id: int | None = None,
        payload: dict[str, Any] | None = None,
    ) -> FakeDelivery:
        """An attempt to deliver to hook ``hook_id`` of ``hook`` ("org:NAME" or "repo:OWNER/NAME")."""
        with self._lock:
            attempt = FakeDelivery(
                id=self._next_delivery_id,
                guid=guid or f"{self._next_delivery_id:08x}-0000-4000-8000-000000000000",
                event=event,
                action=action,
                status_code=status_code,
                delivered_at=delivered_at or datetime.now(UTC),
                redelivery=redelivery,
                repository_id=repository_id,
                payload=payload,
            )
            self._next_delivery_id += 1
            self._deliveries[_hook_key(hook, hook_id)].append(attempt)
            return replace(attempt)

    def hook_deliveries(self, hook: str, hook_id: int) -> list[FakeDelivery]:
        """Every attempt of the hook, newest first (as GitHub lists them)."""
        with self._lock:
            return [replace(d) for d in self._sorted_deliveries(_hook_key(hook, hook_id))]

    def redeliveries_answer(self, status_code: int) -> None:
        """The status code the receiver gives the redeliveries GitHub makes (default 200: they succeed)."""
        with self._lock:
            self._redelivery_status_code = status_code

    # -- knobs ---------------------------------------------------------------------------------------

    def fail_next(self, operation: str, count: int = 1, status: int = 500) -> None:
        self._queue(operation, count, Fault("status", status=status))

    def lose_response_next(self, operation: str, count: int = 1) -> None:
        """Perform the action, then close the socket without answering."""
        self._queue(operation, count, Fault("lose"))

    def reject_with_422_next(self, operation: str, count: int = 1) -> None:
        """Answer 422 "name already exists" without doing anything."""
        self._queue(operation, count, Fault("name_exists", status=422))

    def primary_rate_limit_next(
        self,
        operation: str,
        count: int = 1,
        reset_in: float = 60.0,
        *,
        reset_at: float | None = None,
        as_graphql_error: bool = False,
        after: int = 0,
    ) -> None:
        """403 + x-ratelimit-remaining 0 + x-ratelimit-reset (epoch ``reset_at`` or now + ``reset_in``).

        ``as_graphql_error`` answers like GitHub's GraphQL API instead: 200 with a RATE_LIMITED error.
        ``after``: answer that many requests of the operation normally first (a limit mid-listing).
        """
        fault = Fault(
            "primary", status=403, reset_in=reset_in, reset_at=reset_at, as_graphql_error=as_graphql_error
        )
        self._queue(operation, after, Fault("pass"))
        self._queue(operation, count, fault)

    def secondary_rate_limit_next(
        self,
        operation: str,
        count: int = 1,
        retry_after: float | None = 60,
        status: int = 403,
        *,
        after: int = 0,
    ) -> None:
        """403 (or 429) secondary limit; ``retry_after=None`` sends no Retry-After header."""
        self._queue(operation, after, Fault("pass"))
        self._queue(operation, count, Fault("secondary", status=status, retry_after=retry_after))

    def fork_ready_after(self, gets: int) -> None:
        """New forks answer 404 to their first ``gets`` GETs (GitHub creates forks asynchronously)."""
        with self._lock:
            self._fork_ready_after = gets

    def creation_cap(self, per_minute: int | None, clock_scale: float = 1.0) -> None:
        """Refuse content-creating requests beyond ``per_minute`` in a sliding minute (403 secondary).

        ``clock_scale`` speeds the fake's minute up: with 60, a minute lasts one real second.
        ``None`` removes the cap.
        """
        with self._lock:
            self._cap_per_minute = per_minute
            self._cap_window_seconds = 60.0 / clock_scale
            self._creations.clear()

    def _queue(self, operation: str, count: int, fault: Fault) -> None:
        with self._lock:
            self._faults[operation].extend([fault] * count)

    # -- counters ------------------------------------------------------------------------------------

    def request_count(self, operation: str | None = None) -> int:
        with self._lock:
            return sum(1 for op, _ in self._log if operation is None or op == operation)

    @property
    def request_log(self) -> list[LoggedRequest]:
        with self._lock:
            return [entry for _, entry in self._log]

    @property
    def exchanges(self) -> list[Exchange]:
        """The last 10,000 requests with the answers given (method, path, query, body; status, headers)."""
        with self._lock:
            return list(self._exchanges)

    @property
    def refused_by_cap(self) -> int:
        with self._lock:
            return self._refused_by_cap

    @property
    def open_connections(self) -> int:
        """Client connections the server still holds open (keep-alive included)."""
        with self._lock:
            return self._open_connections

    def _connection_opened(self, delta: int) -> None:
        with self._lock:
            self._open_connections += delta

    # -- request handling (called from the server threads) -------------------------------------------

    def respond(self, request: Request) -> Response:
        operation, args = route(request.method, request.path)
        with self._lock:
            response = self._respond_locked(operation, args, request)
            status = 0 if response.lose else response.status
            self._log.append((operation, LoggedRequest(request.method, request.path, status)))
            if not response.lose:
                body = copy.deepcopy(response.body)
                self._exchanges.append(
                    Exchange(operation, request, response.status, dict(response.headers), body)
                )
        return response

    def _respond_locked(self, operation: str, args: list[str], request: Request) -> Response:
        if self.token is not None and not self._authorized(request.headers.get("authorization", "")):
            return Response(401, BAD_CREDENTIALS_BODY)
        queued = self._faults.get(operation)
        fault = queued.popleft() if queued else None
        if fault is not None and fault.kind == "pass":
            fault = None
        if fault is not None and fault.kind != "lose":
            return self._fault_response(operation, fault)
        if operation in CREATION_OPERATIONS and self._over_cap():
            self._refused_by_cap += 1
            retry_after = str(math.ceil(self._cap_retry_after()))
            return Response(403, SECONDARY_RATE_LIMIT_BODY, {"retry-after": retry_after})
        response = self._perform(operation, args, request)
        response.lose = fault is not None
        return response

    def _authorized(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        return scheme.lower() in ("token", "bearer") and value == self.token

    def _fault_response(self, operation: str, fault: Fault) -> Response:
        if fault.kind == "status":
            return Response(fault.status, {"message": http.HTTPStatus(fault.status).phrase})
        if fault.kind == "name_exists":
            return Response(
                422, GENERATE_NAME_EXISTS_BODY if operation == "generate" else FORK_NAME_EXISTS_BODY
            )
        if fault.kind == "secondary":
            headers = {} if fault.retry_after is None else {"retry-after": _number(fault.retry_after)}
            return Response(fault.status, SECONDARY_RATE_LIMIT_BODY, headers)
        reset = fault.reset_at if fault.reset_at is not None else math.ceil(time.time() + fault.reset_in)
        headers = {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-used": "5000",
            "x-ratelimit-reset": _number(reset),
            "x-ratelimit-resource": "graphql" if operation == "graphql" else "core",
        }
        if fault.as_graphql_error:
            message = f"API rate limit exceeded for user ID {self._owner_id(self.user_login)}."
            return Response(200, {"errors": [{"type": "RATE_LIMITED", "message": message}]}, headers)
        return Response(403, PRIMARY_RATE_LIMIT_BODY, headers)

    def _over_cap(self) -> bool:
        if self._cap_per_minute is None:
            return False
        now = time.monotonic()
        while self._creations and self._creations[0] <= now - self._cap_window_seconds:
            self._creations.popleft()
        if len(self._creations) >= self._cap_per_minute:
            return True
        self._creations.append(now)
        return False

    def _cap_retry_after(self) -> float:
        oldest = self._creations[0] if self._creations else time.monotonic()
        return max(oldest + self._cap_window_seconds - time.monotonic(), 1.0)

    def _perform(self, operation: str, args: list[str], request: Request) -> Response:
        actions: dict[str, Callable[[list[str], Request], Response]] = {
            "get_repo": self._get_repo,
            "get_repo_by_id": self._get_repo_by_id,
            "generate": self._generate,
            "fork": self._fork,
            "delete": self._delete,
            "list_org_repos": self._list_org_repos,
            "graphql": self._graphql,
            "rate_limit": lambda _args, _request: Response(200, RATE_LIMIT_OVERVIEW_BODY),
            "user": lambda _args, request: Response(200, self._owner_body(self.user_login, request.api_base)),
            "list_hook_deliveries": self._list_hook_deliveries,
            "get_hook_delivery": self._get_hook_delivery,
            "redeliver_hook_delivery": self._redeliver_hook_delivery,
        }
        action = actions.get(operation)
        if action is None:
            return Response(404, {"message": "Not Found", "documentation_url": API_DOCS})
        return action(args, request)

    # -- actions ---------------------------------------------------------------------------------------

    def _get_repo(self, args: list[str], request: Request) -> Response:
        full_name = "/".join(args)
        repo = self._find(full_name)
        if repo is None and full_name.lower() in self._moved:
            location = f"{request.api_base}/repositories/{self._moved[full_name.lower()]}"
            return Response(301, {**MOVED_BODY, "url": location}, {"location": location})
        return self._repo_response(repo, request)

    def _get_repo_by_id(self, args: list[str], request: Request) -> Response:
        return self._repo_response(self._repos.get(int(args[0])), request)

    def _repo_response(self, repo: FakeRepo | None, request: Request) -> Response:
        if repo is None:
            return Response(404, NOT_FOUND_BODY)
        if repo.gets_until_ready > 0:
            repo.gets_until_ready -= 1
            return Response(404, NOT_FOUND_BODY)
        return Response(200, self._repo_body(repo, request.api_base, REPO_GET_BODY))

    def _generate(self, args: list[str], request: Request) -> Response:
        template = self._find("/".join(args))
        if template is None:
            return Response(404, NOT_FOUND_BODY)
        payload = _json_object(request.body)
        owner, name = payload.get("owner"), payload.get("name")
        if not template.is_template or not isinstance(owner, str) or not isinstance(name, str):
            return Response(422, VALIDATION_FAILED_BODY)
        if self._find(f"{owner}/{name}") is not None:
            return Response(422, GENERATE_NAME_EXISTS_BODY)
        repo = self._create(owner, name, private=bool(payload.get("private", False)))
        repo.template_id, repo.default_branch = template.id, template.default_branch
        body = self._repo_body(repo, request.api_base, REPO_GENERATED_BODY)
        return Response(201, body, {"location": body["url"]})  # GitHub's documented Location header

    def _fork(self, args: list[str], request: Request) -> Response:
        source = self._find("/".join(args))
        if source is None:
            return Response(404, NOT_FOUND_BODY)
        payload = _json_object(request.body)
        owner = payload.get("organization") or self.user_login
        name = payload.get("name") or source.name
        if self._find(f"{owner}/{name}") is not None:
            return Response(422, FORK_NAME_EXISTS_BODY)
        repo = self._create(
            str(owner), str(name), private=source.private, default_branch=source.default_branch
        )
        repo.parent_id, repo.gets_until_ready = source.id, self._fork_ready_after
        return Response(202, self._repo_body(repo, request.api_base, REPO_FORKED_BODY))

    def _delete(self, args: list[str], request: Request) -> Response:
        full_name = "/".join(args)
        repo = self._find(full_name)
        if repo is None and full_name.lower() in self._moved:
            location = f"{request.api_base}/repositories/{self._moved[full_name.lower()]}"
            return Response(
                307, {**MOVED_BODY, "message": "Temporary Redirect", "url": location}, {"location": location}
            )
        if repo is None:
            return Response(404, NOT_FOUND_BODY)
        del self._repos[repo.id]
        del self._by_name[repo.full_name.lower()]
        self._moved = {old: rid for old, rid in self._moved.items() if rid != repo.id}
        return Response(204)

    def _list_org_repos(self, args: list[str], request: Request) -> Response:
        org = args[0]
        owned = [
            r for r in sorted(self._repos.values(), key=lambda r: r.id) if r.owner.lower() == org.lower()
        ]
        per_page = min(max(_int_param(request.query, "per_page", 30), 1), 100)
        last = max(math.ceil(len(owned) / per_page), 1)
        page = min(max(_int_param(request.query, "page", 1), 1), last + 1)
        items = owned[(page - 1) * per_page : page * per_page]
        body = [self._repo_body(repo, request.api_base, REPO_GET_BODY, nested=False) for repo in items]
        link = _link_header(f"{request.api_base}/orgs/{org}/repos", request.query, page, last)
        return Response(200, body, {"link": link} if link else {})

    def _graphql(self, _args: list[str], request: Request) -> Response:
        payload = _json_object(request.body)
        query, variables = str(payload.get("query", "")), payload.get("variables") or {}
        fields = _graphql_repository_fields(query, variables)
        if not fields:
            return Response(200, {"errors": [{"message": "Parse error: no repository(owner:, name:) field"}]})
        data: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for alias, owner, name in fields:
            repo = self._find(f"{owner}/{name}") or self._repos.get(
                self._moved.get(f"{owner}/{name}".lower(), -1)
            )
            if repo is None or repo.gets_until_ready > 0:
                data[alias] = None
                errors.append(_graphql_not_found(alias, owner, name))
            else:
                data[alias] = self._graphql_node(repo)
        return Response(200, {"data": data, "errors": errors} if errors else {"data": data})

    def _list_hook_deliveries(self, args: list[str], request: Request) -> Response:
        key = _hook_key_of(args)
        status = request.query.get("status", [None])[0]
        if status not in (None, "success", "failure"):
            return Response(422, VALIDATION_FAILED_BODY)
        attempts = [d for d in self._sorted_deliveries(key) if _status_matches(d, status)]
        cursor = request.query.get("cursor", [None])[0]
        if cursor is not None:
            start = next((i + 1 for i, d in enumerate(attempts) if f"v1_{d.id}" == cursor), None)
            if start is None:
                return Response(422, VALIDATION_FAILED_BODY)
            attempts = attempts[start:]
        per_page = min(max(_int_param(request.query, "per_page", 30), 1), 100)
        page = attempts[:per_page]
        headers = {}
        if len(attempts) > per_page:
            params = {k: v[0] for k, v in request.query.items() if k != "cursor"}
            params["cursor"] = f"v1_{page[-1].id}"
            headers["link"] = f'<{request.api_base}{request.path}?{urlencode(params)}>; rel="next"'
        return Response(200, [self._delivery_item(d) for d in page], headers)

    def _get_hook_delivery(self, args: list[str], request: Request) -> Response:
        attempt = self._find_delivery(_hook_key_of(args[:-1]), int(args[-1]))
        if attempt is None:
            return Response(404, NOT_FOUND_BODY)
        body = {**self._delivery_item(attempt), "url": HOOK_DELIVERY_BODY.get("url", "")}
        skeleton = HOOK_DELIVERY_BODY.get("request") or {}
        headers = dict(skeleton.get("headers") or {})
        headers.update(
            {
                "X-GitHub-Delivery": attempt.guid,
                "X-GitHub-Event": attempt.event,
                "X-GitHub-Hook-ID": args[-2],
            }
        )
        payload = attempt.payload if attempt.payload is not None else skeleton.get("payload", {})
        body["request"] = {"headers": headers, "payload": copy.deepcopy(payload)}
        body["response"] = copy.deepcopy(HOOK_DELIVERY_BODY.get("response") or {"headers": {}, "payload": ""})
        return Response(200, body)

    def _redeliver_hook_delivery(self, args: list[str], request: Request) -> Response:
        key = _hook_key_of(args[:-1])
        attempt = self._find_delivery(key, int(args[-1]))
        if attempt is None:
            return Response(404, NOT_FOUND_BODY)
        again = FakeDelivery(
            id=self._next_delivery_id,
            guid=attempt.guid,
            event=attempt.event,
            action=attempt.action,
            status_code=self._redelivery_status_code,
            delivered_at=datetime.now(UTC),
            redelivery=True,
            repository_id=attempt.repository_id,
            payload=attempt.payload,
            redelivers=attempt.id,
        )
        self._next_delivery_id += 1
        self._deliveries[key].append(again)
        return Response(202, {})

    def _sorted_deliveries(self, key: str) -> list[FakeDelivery]:
        return sorted(self._deliveries.get(key, []), key=lambda d: (d.delivered_at, d.id), reverse=True)

    def _find_delivery(self, key: str, delivery_id: int) -> FakeDelivery | None:
        return next((d for d in self._deliveries.get(key, []) if d.id == delivery_id), None)

    def _delivery_item(self, attempt: FakeDelivery) -> dict[str, Any]:
        body = {k: v for k, v in HOOK_DELIVERY_ITEM_BODY.items() if k in _BUILTIN_DELIVERY_ITEM}
        body.update(
            id=attempt.id,
            guid=attempt.guid,
            delivered_at=attempt.delivered_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            redelivery=attempt.redelivery,
            status=attempt.status,
            status_code=attempt.status_code,
            event=attempt.event,
            action=attempt.action,
            installation_id=None,
            repository_id=attempt.repository_id,
            throttled_at=None,
        )
        return body

    # -- rendering -------------------------------------------------------------------------------------

    def _repo_body(self, repo: FakeRepo, api_base: str, skeleton: dict[str, Any], nested: bool = True) -> Any:
        plain = {
            k: v
            for k, v in skeleton.items()
            if k not in ("template_repository", "parent", "source", "organization", "owner")
        }
        body = _rewrite(plain, [(skeleton["full_name"], repo.full_name), *self._host_rewrites(api_base)])
        body.update(
            id=repo.id,
            node_id=f"R_fake{repo.id}",
            name=repo.name,
            full_name=repo.full_name,
            owner=self._owner_body(repo.owner, api_base),
            private=repo.private,
            visibility="private" if repo.private else "public",
            fork=repo.parent_id is not None,
            is_template=repo.is_template,
            default_branch=repo.default_branch,
            created_at=repo.created_at,
        )
        # Fields GitHub's description requires that one corpus example or the other lacks.
        body.setdefault("language", None)
        body.setdefault("has_discussions", False)
        if nested:
            self._add_related(body, repo, api_base, skeleton)
        return body

    def _add_related(
        self, body: dict[str, Any], repo: FakeRepo, api_base: str, skeleton: dict[str, Any]
    ) -> None:
        template = self._repos.get(repo.template_id) if repo.template_id else None
        parent = self._repos.get(repo.parent_id) if repo.parent_id else None
        if template is not None:
            body["template_repository"] = self._repo_body(template, api_base, skeleton, nested=False)
        if parent is not None:
            body["parent"] = self._repo_body(parent, api_base, skeleton, nested=False)
            body["source"] = self._repo_body(self._root_of(parent), api_base, skeleton, nested=False)
        if "organization" in skeleton:
            body["organization"] = self._owner_body(repo.owner, api_base)

    def _owner_body(self, login: str, api_base: str) -> dict[str, Any]:
        skeleton = REPO_GET_BODY["owner"]
        old = skeleton["login"]
        rewrites = [(f"/{old}/", f"/{login}/"), (f"/{old}", f"/{login}"), *self._host_rewrites(api_base)]
        body = _rewrite(skeleton, rewrites)
        kind = "User" if login == self.user_login else "Organization"
        body.update(
            login=login, id=self._owner_id(login), node_id=f"O_fake{self._owner_id(login)}", type=kind
        )
        return body

    def _graphql_node(self, repo: FakeRepo) -> dict[str, Any]:
        template = self._repos.get(repo.template_id) if repo.template_id else None
        parent = self._repos.get(repo.parent_id) if repo.parent_id else None
        return {
            "databaseId": repo.id,
            "name": repo.name,
            "owner": {"login": repo.owner},
            "nameWithOwner": repo.full_name,
            "url": f"{self.web_url}/{repo.full_name}",
            "isPrivate": repo.private,
            "defaultBranchRef": {"name": repo.default_branch},
            "templateRepository": {"nameWithOwner": template.full_name} if template else None,
            "parent": {"nameWithOwner": parent.full_name} if parent else None,
        }

    def _host_rewrites(self, api_base: str) -> list[tuple[str, str]]:
        return [("https://api.github.com", api_base), ("https://github.com", self.web_url)]

    def _root_of(self, repo: FakeRepo) -> FakeRepo:
        while repo.parent_id is not None and repo.parent_id in self._repos:
            repo = self._repos[repo.parent_id]
        return repo

    # -- internal state ----------------------------------------------------------------------------------

    def _find(self, full_name: str) -> FakeRepo | None:
        repo_id = self._by_name.get(full_name.lower())
        return self._repos.get(repo_id) if repo_id is not None else None

    def _create(self, owner: str, name: str, *, private: bool, default_branch: str = "main") -> FakeRepo:
        repo = FakeRepo(
            id=self._next_id, owner=owner, name=name, private=private, default_branch=default_branch
        )
        self._next_id += 1
        self._repos[repo.id] = repo
        self._by_name[repo.full_name.lower()] = repo.id
        self._moved.pop(repo.full_name.lower(), None)
        return repo

    def _owner_id(self, login: str) -> int:
        return self._owner_ids.setdefault(login.lower(), 9000001 + len(self._owner_ids))


# -- HTTP ----------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or hung up is part of the scenarios, not a fake's failure.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections end on their own
    server: ThreadingHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, delayed ACKs add ~40 ms per request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._connection_opened(1)  # type: ignore[attr-defined]

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._connection_opened(-1)  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the fake's request_log is the record

    def _serve(self, method: str) -> None:
        fake: FakeGitHub = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=method,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            api_base=f"http://{self.headers.get('Host') or _address(self.server)}",
        )
        if fake.latency_seconds > 0:
            time.sleep(fake.latency_seconds)
        response = fake.respond(request)
        if response.lose:
            self.close_connection = True  # the server then closes the socket: no status line at all
            return
        self._write(response)

    def _write(self, response: Response) -> None:
        payload = b"" if response.body is None else json.dumps(response.body).encode("utf-8")
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


# -- small helpers -------------------------------------------------------------------------------------


def _hook_key(hook: str, hook_id: int) -> str:
    kind, _, name = hook.partition(":")
    if kind not in ("org", "repo") or not name:
        raise ValueError(f"a hook is 'org:NAME' or 'repo:OWNER/NAME', not {hook!r}")
    return f"{kind}:{name.lower()}:{int(hook_id)}"


def _hook_key_of(args: list[str]) -> str:
    """Route arguments (org, hook) or (owner, repo, hook) as a hook key."""
    if len(args) == 2:
        return _hook_key(f"org:{args[0]}", int(args[1]))
    return _hook_key(f"repo:{args[0]}/{args[1]}", int(args[2]))


def _status_matches(attempt: FakeDelivery, status: str | None) -> bool:
    """GitHub's filter: success is a status code of 200-399, failure 400-599."""
    if status == "success":
        return 200 <= attempt.status_code < 400
    if status == "failure":
        return 400 <= attempt.status_code < 600
    return True


def _address(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"{host!s}:{port}"


def _split(full_name: str) -> tuple[str, str]:
    owner, slash, name = full_name.partition("/")
    if not (owner and slash and name) or "/" in name:
        raise ValueError(f"not an owner/name: {full_name!r}")
    return owner, name


def _rewrite(value: Any, rewrites: list[tuple[str, str]]) -> Any:
    if isinstance(value, dict):
        return {k: _rewrite(v, rewrites) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, rewrites) for v in value]
    if isinstance(value, str):
        for old, new in rewrites:
            value = value.replace(old, new)
    return value


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return int(query.get(name, [default])[0])
    except ValueError:
        return default


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _link_header(base: str, query: dict[str, list[str]], page: int, last: int) -> str:
    def url(target: int) -> str:
        params = {k: v[0] for k, v in query.items()}
        params["page"] = str(target)
        return f"<{base}?{urlencode(params)}>"

    links = []
    if page < last:
        links += [f'{url(page + 1)}; rel="next"', f'{url(last)}; rel="last"']
    if page > 1:
        links += [f'{url(1)}; rel="first"', f'{url(page - 1)}; rel="prev"']
    return ", ".join(links)


_GRAPHQL_VALUE = r'("(?:[^"\\]|\\.)*"|\$\w+)'
_GRAPHQL_REPOSITORY = re.compile(
    rf"(?:(\w+)\s*:\s*)?repository\s*\(\s*owner\s*:\s*{_GRAPHQL_VALUE}\s*,\s*name\s*:\s*{_GRAPHQL_VALUE}\s*\)"
)


def _graphql_repository_fields(query: str, variables: dict[str, Any]) -> list[tuple[str, str, str]]:
    def value(token: str) -> str:
        return str(variables.get(token[1:], "")) if token.startswith("$") else json.loads(token)

    return [
        (alias or "repository", value(owner), value(name))
        for alias, owner, name in _GRAPHQL_REPOSITORY.findall(query)
    ]


def _graphql_not_found(alias: str, owner: str, name: str) -> dict[str, Any]:
    return {
        "type": "NOT_FOUND",
        "path": [alias],
        "locations": [{"line": 1, "column": 1}],
        "message": f"Could not resolve to a Repository with the name '{owner}/{name}'.",
    }


# -- standalone ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake GitHub REST/GraphQL server for forgea tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--token", default=None, help="require this token (401 otherwise)")
    parser.add_argument("--template", action="append", default=[], help="owner/name of a template repo")
    parser.add_argument("--repo", action="append", default=[], help="owner/name of a plain repo")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--creation-cap", type=int, default=None, help="content-creating requests per minute")
    parser.add_argument("--clock-scale", type=float, default=1.0, help="speeds up the cap's minute")
    args = parser.parse_args(argv)

    fake = FakeGitHub(token=args.token, host=args.host, port=args.port)
    for name in args.template:
        fake.add_repo(name, is_template=True)
    for name in args.repo:
        fake.add_repo(name)
    fake.latency_seconds = args.latency
    if args.creation_cap is not None:
        fake.creation_cap(args.creation_cap, clock_scale=args.clock_scale)
    fake.start()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=fake.stop).start())
    print(f"FakeGitHub listening on {fake.url}", flush=True)
    try:
        fake.serve_forever()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
