"""Canonical GitHub repository URLs: the one place the tool turns a spelling into owner/repo.

Every accepted spelling and every rejection rule is written down in docs/url-canonicalization.md;
the corpus test in tests/unit/test_urls.py holds this module to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import NoReturn

from forgea_cli.errors import InvalidInput

__all__ = [
    "DEFAULT_WEB_HOST",
    "RESERVED_FIRST_SEGMENTS",
    "RejectReason",
    "RepoRef",
    "RepoUrlRejected",
    "canonical_repo_url",
    "parse_repo_url",
    "redact_url",
]

DEFAULT_WEB_HOST = "github.com"

# First path segments that are GitHub pages rather than accounts. GitHub refuses these as user and
# organisation names, so a URL starting with one can never name a repository.
RESERVED_FIRST_SEGMENTS = frozenset(
    {
        "about",
        "account",
        "apps",
        "blog",
        "codespaces",
        "collections",
        "contact",
        "customer-stories",
        "dashboard",
        "enterprise",
        "enterprises",
        "events",
        "explore",
        "features",
        "issues",
        "join",
        "login",
        "logout",
        "marketplace",
        "new",
        "notifications",
        "organizations",
        "orgs",
        "pricing",
        "pulls",
        "search",
        "security",
        "sessions",
        "settings",
        "signup",
        "site",
        "sponsors",
        "stars",
        "topics",
        "trending",
        "users",
    }
)


class RejectReason(StrEnum):
    NOT_A_URL = "NOT_A_URL"
    UNSUPPORTED_SCHEME = "UNSUPPORTED_SCHEME"
    INVALID_PORT = "INVALID_PORT"
    NOT_GITHUB = "NOT_GITHUB"
    NO_REPO_PART = "NO_REPO_PART"
    RESERVED_OWNER = "RESERVED_OWNER"
    INVALID_OWNER = "INVALID_OWNER"
    INVALID_REPO = "INVALID_REPO"


class RepoUrlRejected(InvalidInput):
    """The text does not name a repository on the configured GitHub web host.

    ``url`` is the input with credentials, query and fragment masked: it is safe to print.
    """

    def __init__(self, raw: str, reason: RejectReason, detail: str) -> None:
        self.url = redact_url(raw)
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail} ({_clip(self.url, 160)!r})")

    def __reduce__(self) -> tuple[type[RepoUrlRejected], tuple[str, RejectReason, str]]:
        # Backfill workers may pickle it; `url` is already masked and masking is idempotent.
        return (type(self), (self.url, self.reason, self.detail))


@dataclass(frozen=True, slots=True)
class RepoRef:
    """A repository as spelled in the input (case kept for display); compare ``canonical_url``."""

    owner: str
    name: str
    web_host: str = DEFAULT_WEB_HOST

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def canonical_url(self) -> str:
        return f"https://{self.web_host}/{self.owner}/{self.name}".lower()


def canonical_repo_url(raw: str, web_host: str = DEFAULT_WEB_HOST) -> str:
    """``https://<web_host>/<owner>/<repo>`` in lower case, or RepoUrlRejected."""
    return parse_repo_url(raw, web_host).canonical_url


def parse_repo_url(raw: str, web_host: str = DEFAULT_WEB_HOST) -> RepoRef:
    host = _web_host(web_host)
    if not isinstance(raw, str):
        raise RepoUrlRejected(repr(raw), RejectReason.NOT_A_URL, "not text")
    plain = _plain_web_ref(raw, host)
    if plain is not None:
        return plain
    try:
        location = _locate(raw)
        _check_host(location, host)
        owner, name = _owner_and_name(location.path)
    except _Rejected as rejected:
        raise RepoUrlRejected(raw, rejected.reason, rejected.detail) from None
    return RepoRef(owner, name, host.authority)


# --- the web host ---------------------------------------------------------------------------------

_SCHEME_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://(.*)", re.DOTALL)
_HOST_AND_PORT = re.compile(
    r"((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)\.?(?::([0-9]{1,5}))?"
)
_DEFAULT_WEB_PORTS = frozenset({80, 443})


@dataclass(frozen=True, slots=True)
class _WebHost:
    name: str
    port: int | None  # only a non-default port of the web UI (GitHub Enterprise behind :8443)
    web_names: frozenset[str]
    ssh_names: frozenset[str]

    @property
    def authority(self) -> str:
        return self.name if self.port is None else f"{self.name}:{self.port}"

    def accepts_web_port(self, port: int | None) -> bool:
        if self.port is None:
            return port is None or port in _DEFAULT_WEB_PORTS
        return port == self.port


@lru_cache(maxsize=16)
def _web_host(spec: str) -> _WebHost:
    text = spec.strip().lower() if isinstance(spec, str) else ""
    scheme_url = _SCHEME_URL.fullmatch(text)
    if scheme_url:
        text = scheme_url.group(2)
    text = re.split(r"[/?#]", text, maxsplit=1)[0]
    parsed = _HOST_AND_PORT.fullmatch(text)
    port = int(parsed.group(2)) if parsed and parsed.group(2) else None
    if parsed is None or port == 0 or (port is not None and port > 65535):
        raise InvalidInput(
            f"invalid GitHub web host {spec!r}: expected a host like github.com "
            "or a URL like https://github.example.com"
        )
    name = parsed.group(1)
    web_names = frozenset({name, f"www.{name}"})
    # ssh.github.com is GitHub's documented SSH-over-port-443 endpoint; Enterprise has no such alias.
    ssh_names = web_names | {"ssh.github.com"} if name == DEFAULT_WEB_HOST else web_names
    return _WebHost(name, None if port in _DEFAULT_WEB_PORTS else port, web_names, ssh_names)


# --- locating host and path in the input ----------------------------------------------------------

_BLANK_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
_QUERY_OR_FRAGMENT = re.compile(r"[?#]")
_PORT = re.compile(r"[0-9]{1,5}")
_TRANSPORT_BY_SCHEME = {
    "https": "web",
    "http": "web",
    "git+https": "web",
    "git+http": "web",
    "ssh": "ssh",
    "git+ssh": "ssh",
    "ssh+git": "ssh",
    "git": "git",
}
# `github:owner/repo` (npm) and `https:github.com/...` look like scp addresses to a naive parser.
_NOT_SCP_HOSTS = frozenset({"github", "gitlab", "bitbucket", "gist", "ftp", "ftps", "file"}) | frozenset(
    _TRANSPORT_BY_SCHEME
)


class _Rejected(Exception):
    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _reject(reason: RejectReason, detail: str) -> NoReturn:
    raise _Rejected(reason, detail)


@dataclass(frozen=True, slots=True)
class _Location:
    transport: str  # "web", "ssh" or "git"
    host: str
    port: int | None
    path: str


def _locate(raw: str) -> _Location:
    text = raw.strip()
    if not text:
        _reject(RejectReason.NOT_A_URL, "empty")
    if _BLANK_OR_CONTROL.search(text):
        _reject(RejectReason.NOT_A_URL, "contains blanks or control characters")
    text = _without_query_and_fragment(text)
    if "\\" in text:  # browsers read "\\" as "/", which would move the host
        _reject(RejectReason.NOT_A_URL, "contains a backslash")
    scheme_url = _SCHEME_URL.fullmatch(text)
    if scheme_url:
        return _split_url(scheme_url.group(1).lower(), scheme_url.group(2))
    return _split_scp(text)


def _without_query_and_fragment(text: str) -> str:
    found = _QUERY_OR_FRAGMENT.search(text)
    return text[: found.start()] if found else text


def _split_url(scheme: str, rest: str) -> _Location:
    transport = _TRANSPORT_BY_SCHEME.get(scheme)
    if transport is None:
        _reject(RejectReason.UNSUPPORTED_SCHEME, f"scheme {_clip(scheme, 20)!r} is not used for git")
    authority, _, path = rest.partition("/")
    hostport = authority.rpartition("@")[2]
    host, port_text = _split_host_and_port(hostport)
    return _Location(transport, host, _port_number(port_text), path)


def _split_host_and_port(hostport: str) -> tuple[str, str]:
    if hostport.startswith("["):  # IPv6 literal: never a GitHub web host, but must not crash
        end = hostport.find("]")
        if end < 0 or (end + 1 < len(hostport) and hostport[end + 1] != ":"):
            _reject(RejectReason.NOT_A_URL, "malformed IPv6 host")
        return hostport[: end + 1], hostport[end + 2 :]
    host, _, port_text = hostport.partition(":")
    return host, port_text


def _port_number(port_text: str) -> int | None:
    if not port_text:
        return None  # RFC 3986 allows an empty port: `host:` means the default
    if _PORT.fullmatch(port_text) and 0 < int(port_text) <= 65535:
        return int(port_text)
    # The value is not echoed: with an unencoded "/" in a password, it is part of the password.
    _reject(
        RejectReason.INVALID_PORT,
        "':' after the host must be followed by a port from 1 to 65535 "
        "(an scp-style 'host:owner/repo' is not valid inside a URL)",
    )


def _split_scp(text: str) -> _Location:
    """git's scp-like syntax `[user@]host:path`: a ':' before the first '/'."""
    head = text.partition("/")[0]
    if ":" not in head:
        _reject(RejectReason.NOT_A_URL, _no_scheme_detail(head))
    at = head.rfind("@")
    user = text[:at] if at >= 0 else None
    host, _, path = text[at + 1 :].partition(":")
    if user is not None and (not user or ":" in user):
        _reject(RejectReason.NOT_A_URL, "scp-like address with an empty user name or a password")
    if not host or (user is None and host.lower() in _NOT_SCP_HOSTS):
        _reject(RejectReason.NOT_A_URL, "shorthand or malformed URL: write the full https:// URL")
    return _Location("ssh", host, None, path)


def _no_scheme_detail(head: str) -> str:
    if "@" in head:
        return "scp-like address needs ':' after the host (user@host:owner/repo)"
    return "no scheme: write the full https:// URL (owner/repo shorthands are not accepted)"


# --- host and path rules --------------------------------------------------------------------------


def _check_host(location: _Location, web_host: _WebHost) -> None:
    host = location.host
    if not host:
        _reject(RejectReason.NOT_A_URL, "no host")
    if not host.isascii():
        _reject(RejectReason.NOT_GITHUB, f"host is not {web_host.name}")
    host = host.lower().removesuffix(".")
    names = web_host.ssh_names if location.transport == "ssh" else web_host.web_names
    if host not in names:
        if host == f"gist.{web_host.name}":
            _reject(RejectReason.NOT_GITHUB, f"{host} serves gists, not repositories")
        _reject(RejectReason.NOT_GITHUB, f"host {_clip(host, 60)!r} is not {web_host.name}")
    if location.transport == "web" and not web_host.accepts_web_port(location.port):
        _reject(RejectReason.NOT_GITHUB, f"port {location.port} is not the web port of {web_host.authority}")


_OWNER = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9])*")
_REPO = re.compile(r"[A-Za-z0-9._-]+")
_MAX_OWNER = 39
_MAX_REPO = 100


def _owner_and_name(path: str) -> tuple[str, str]:
    segments = [segment for segment in path.split("/") if segment]
    if not segments:
        _reject(RejectReason.NO_REPO_PART, "no owner/repository in the path")
    owner = segments[0]
    if owner.lower() in RESERVED_FIRST_SEGMENTS:
        _reject(RejectReason.RESERVED_OWNER, f"/{owner} is a GitHub page, not an account")
    if len(owner) > _MAX_OWNER or not _OWNER.fullmatch(owner):
        _reject(RejectReason.INVALID_OWNER, f"{_clip(owner, 60)!r} is not a valid GitHub account name")
    if len(segments) < 2:
        _reject(RejectReason.NO_REPO_PART, f"no repository after the owner {owner!r}")
    return owner, _repo_name(segments[1])


def _repo_name(segment: str) -> str:
    name = segment[:-4] if segment[-4:].lower() == ".git" else segment
    if len(name) > _MAX_REPO or not _REPO.fullmatch(name) or name in {".", ".."}:
        _reject(RejectReason.INVALID_REPO, f"{_clip(segment, 60)!r} is not a valid repository name")
    if name[-4:].lower() == ".git":  # GitHub strips it on creation; keeping it would break idempotence
        _reject(RejectReason.INVALID_REPO, f"{_clip(segment, 60)!r} ends in .git twice")
    return name


# --- fast path -------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _plain_web_url(host: _WebHost) -> re.Pattern[str]:
    name = re.escape(host.name) + (f":{host.port}" if host.port is not None else "")
    return re.compile(rf"https?://(?:www\.)?{name}/([A-Za-z0-9-]+)/([A-Za-z0-9._-]+)/?")


def _plain_web_ref(raw: str, host: _WebHost) -> RepoRef | None:
    """`http(s)://[www.]<host>/<owner>/<repo>[.git][/]` (the spelling of GitHub's html_url) with one
    simple match, for backfills of millions of rows. Anything else, or anything these checks cannot
    settle, goes to the general parser, which gives the same result for every input accepted here."""
    match = _plain_web_url(host).fullmatch(raw)
    if match is None:
        return None
    owner, name = match.groups()
    if name[-4:].lower() == ".git":
        name = name[:-4]
    if (
        len(owner) > _MAX_OWNER
        or owner[0] == "-"
        or owner[-1] == "-"
        or "--" in owner
        or owner.lower() in RESERVED_FIRST_SEGMENTS
        or not name
        or len(name) > _MAX_REPO
        or name in {".", ".."}
        or name[-4:].lower() == ".git"
    ):
        return None
    return RepoRef(owner, name, host.authority)


# --- safe display ---------------------------------------------------------------------------------


def redact_url(raw: str) -> str:
    """The input with user info replaced by ``***`` and query/fragment elided, safe to print.

    Errs on the side of masking: anything that could be a password is masked, even when that also
    masks a harmless host or path.
    """
    text = raw.strip()
    cut = _QUERY_OR_FRAGMENT.search(text)
    tail = f"{cut.group()}..." if cut else ""
    text = text[: cut.start()] if cut else text
    scheme_url = _SCHEME_URL.match(text)
    start = scheme_url.start(2) if scheme_url else 0
    head_end = text.find("/", start)
    at = text.rfind("@", start, head_end if head_end >= 0 else len(text))
    if at < 0:
        # An unencoded "/" in a password moves the "@" past the first "/".
        at = text.rfind("@", start)
        if at >= 0 and ":" not in text[start:at]:
            at = -1
    if at < 0 or text[start:at] == "git":
        return text + tail
    return f"{text[:start]}***{text[at:]}{tail}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}..."
