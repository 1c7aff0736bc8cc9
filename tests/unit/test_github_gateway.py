"""PyGithubGateway against the fake GitHub over real HTTP; waits go through an injected sleep."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from forgea_cli.errors import GitHubError
from forgea_cli.github.gateway import (
    GitHubAuthFailed,
    GitHubNotFound,
    GitHubRefused,
    GitHubUnavailable,
    RepoInfo,
    RepoNameTaken,
)
from forgea_cli.github.pacing import CreationPacer
from forgea_cli.github.pygithub_gateway import (
    PyGithubGateway,
    graphql_url_for,
    rate_limit_of,
    says_name_exists,
)
from forgea_cli.testing import github_server
from forgea_cli.testing.github_server import FakeGitHub

TOKEN = "ghp_Zq8sT0kenThatMustNeverLeak4242"
NOW = 1_800_000_000.0
TEMPLATE = "labs/template"


class Sleeps(list[float]):
    """Records the waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class CountingPacer:
    def __init__(self) -> None:
        self.calls = 0

    def acquire(self) -> float:
        self.calls += 1
        return 0.0


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as server:
        server.add_repo(TEMPLATE, is_template=True)
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def pacer() -> CountingPacer:
    return CountingPacer()


@pytest.fixture
def make_gateway(fake: FakeGitHub, sleeps: Sleeps) -> Iterator[Callable[..., PyGithubGateway]]:
    made: list[PyGithubGateway] = []

    def make(**options: Any) -> PyGithubGateway:
        settings: dict[str, Any] = {"sleep": sleeps, "clock": lambda: NOW, "timeout": 5, **options}
        made.append(PyGithubGateway(fake.url, TOKEN, **settings))
        return made[-1]

    yield make
    for gw in made:
        gw.close()


@pytest.fixture
def gateway(make_gateway: Callable[..., PyGithubGateway], pacer: CountingPacer) -> PyGithubGateway:
    return make_gateway(pacer=pacer)


def generate(gateway: PyGithubGateway, name: str = "lab-1") -> RepoInfo:
    return gateway.create_from_template(TEMPLATE, "students", name)


def secret_free(text: str) -> bool:
    return TOKEN not in text and TOKEN[:12] not in text and TOKEN[-12:] not in text


def assert_no_token_in(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for exc in chain:
        assert secret_free(str(exc)) and secret_free(repr(exc)), type(exc)
    for record in caplog.records:
        assert secret_free(record.getMessage()), record.name
    assert secret_free(caplog.text)


# -- reads -------------------------------------------------------------------------------------------


def test_get_repo_maps_the_rest_body(gateway: PyGithubGateway, fake: FakeGitHub) -> None:
    info = gateway.get_repo("LABS/Template")
    assert info == RepoInfo(
        id=github_server.FIRST_REPO_ID,
        owner="labs",
        name="template",
        full_name="labs/template",
        html_url="https://github.com/labs/template",
        default_branch="main",
        private=False,
        template_full_name=None,
        parent_full_name=None,
    )


def test_get_repo_and_get_by_id_answer_none_on_404(gateway: PyGithubGateway) -> None:
    assert gateway.get_repo("labs/missing") is None
    assert gateway.get_repo_by_id(42) is None
    assert gateway.get_repo_by_id(github_server.FIRST_REPO_ID).full_name == TEMPLATE


def test_get_repo_follows_a_rename(gateway: PyGithubGateway, fake: FakeGitHub) -> None:
    repo = fake.add_repo("students/old-name")
    fake.rename("students/old-name", "new-name")
    info = gateway.get_repo("students/old-name")
    assert info is not None
    assert (info.id, info.full_name) == (repo.id, "students/new-name")
    assert [entry.status for entry in fake.request_log] == [301, 200]


def test_list_org_repos_follows_pagination(gateway: PyGithubGateway, fake: FakeGitHub) -> None:
    for i in range(230):
        fake.add_repo(f"students/r{i:03}")
    fake.add_repo("others/x")
    repos = gateway.list_org_repos("students")
    assert [r.name for r in repos] == [f"r{i:03}" for i in range(230)]
    assert fake.request_count("list_org_repos") == 3


# -- create from template --------------------------------------------------------------------------


def test_create_from_template(gateway: PyGithubGateway, fake: FakeGitHub, pacer: CountingPacer) -> None:
    info = generate(gateway)
    assert info.full_name == "students/lab-1"
    assert info.template_full_name == TEMPLATE
    assert info.private is True
    assert fake.get("students/lab-1") is not None
    assert pacer.calls == 1


def test_server_errors_are_retried_and_make_exactly_one_repo(
    gateway: PyGithubGateway, fake: FakeGitHub, sleeps: Sleeps, pacer: CountingPacer
) -> None:
    fake.fail_next("generate", 2, status=502)
    info = generate(gateway)
    assert [r.full_name for r in fake.repos()] == [TEMPLATE, info.full_name]
    assert fake.request_count("generate") == 3
    assert len(sleeps) == 2
    assert all(0 < s <= 60 for s in sleeps)
    assert pacer.calls == 3  # every attempt is a content-creating request


def test_lost_response_then_retry_raises_name_taken_and_one_repo(
    gateway: PyGithubGateway, fake: FakeGitHub
) -> None:
    fake.lose_response_next("generate")
    with pytest.raises(RepoNameTaken, match="students/lab-1"):
        generate(gateway)
    assert [r.full_name for r in fake.repos()] == [TEMPLATE, "students/lab-1"]
    assert [e.status for e in fake.request_log] == [0, 422]


def test_name_taken_without_retry(gateway: PyGithubGateway, fake: FakeGitHub, sleeps: Sleeps) -> None:
    fake.reject_with_422_next("generate")
    with pytest.raises(RepoNameTaken) as caught:
        generate(gateway)
    assert isinstance(caught.value, GitHubError)
    assert "\n" not in str(caught.value)
    assert sleeps == []


def test_missing_template_is_not_found(gateway: PyGithubGateway) -> None:
    with pytest.raises(GitHubNotFound, match="labs/none"):
        gateway.create_from_template("labs/none", "students", "x")


def test_other_422_is_refused(gateway: PyGithubGateway, fake: FakeGitHub) -> None:
    fake.add_repo("labs/plain")
    with pytest.raises(GitHubRefused):
        gateway.create_from_template("labs/plain", "students", "x")


def test_persistent_server_errors_end_unavailable(
    gateway: PyGithubGateway, fake: FakeGitHub, sleeps: Sleeps
) -> None:
    fake.fail_next("get_repo", 10)
    with pytest.raises(GitHubUnavailable, match="gave up after 5 attempts"):
        gateway.get_repo(TEMPLATE)
    assert fake.request_count("get_repo") == 5
    assert len(sleeps) == 4


def test_timeouts_are_retried(
    make_gateway: Callable[..., PyGithubGateway], fake: FakeGitHub, sleeps: Sleeps
) -> None:
    fake.latency_seconds = 1.3  # PyGithub insists on whole seconds for its timeout
    gw = make_gateway(timeout=1, max_attempts=2)
    with pytest.raises(GitHubUnavailable, match="connection failed"):
        gw.get_repo(TEMPLATE)
    assert len(sleeps) == 1


# -- rate limits -------------------------------------------------------------------------------------


def test_primary_rate_limit_waits_until_reset(
    gateway: PyGithubGateway, fake: FakeGitHub, sleeps: Sleeps
) -> None:
    fake.primary_rate_limit_next("get_repo", reset_at=NOW + 30)
    assert gateway.get_repo(TEMPLATE) is not None
    assert sleeps == [31.0]  # until the reset, plus one second for clock skew


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_honours_retry_after(
    gateway: PyGithubGateway, fake: FakeGitHub, sleeps: Sleeps, status: int
) -> None:
    fake.secondary_rate_limit_next("generate", retry_after=7, status=status)
    generate(gateway)
    assert sleeps == [7.0]
    assert len(fake.repos()) == 2


def test_secondary_rate_limit_without_headers_backs_off(
    gateway: PyGithubGateway, fake: FakeGitHub, sleeps: Sleeps
) -> None:
    fake.secondary_rate_limit_next("generate", retry_after=None)
    generate(gateway)
    assert len(sleeps) == 1
    assert 0 < sleeps[0] <= 60


def test_rate_limit_beyond_max_wait_is_unavailable_at_once(
    gateway: PyGithubGateway, fake: FakeGitHub, sleeps: Sleeps
) -> None:
    fake.primary_rate_limit_next("get_repo", reset_at=NOW + 3600)
    with pytest.raises(GitHubUnavailable, match="resets at 2027-01-15 09:00:00 UTC"):
        gateway.get_repo(TEMPLATE)
    fake.secondary_rate_limit_next("generate", retry_after=600)
    with pytest.raises(GitHubUnavailable, match="asks to wait 600s"):
        generate(gateway)
    assert sleeps == []
    assert fake.request_count() == 2


def test_rate_limit_that_persists_ends_unavailable(
    gateway: PyGithubGateway, fake: FakeGitHub, sleeps: Sleeps
) -> None:
    fake.secondary_rate_limit_next("delete", count=10, retry_after=2)
    with pytest.raises(GitHubUnavailable, match="secondary rate limit"):
        gateway.delete_repo(TEMPLATE)
    assert sleeps == [2.0] * 4


def test_creation_cap_refusals_are_retried(
    gateway: PyGithubGateway, fake: FakeGitHub, sleeps: Sleeps
) -> None:
    fake.creation_cap(1)
    generate(gateway, "a")
    with pytest.raises(GitHubUnavailable):
        generate(gateway, "b")  # the fake's real minute does not pass while the test "sleeps"
    assert fake.refused_by_cap == 5
    assert len(sleeps) == 4


# -- GraphQL -----------------------------------------------------------------------------------------


def test_lookup_many_batches_by_100_and_maps_missing_to_none(
    gateway: PyGithubGateway, fake: FakeGitHub
) -> None:
    existing = [f"students/r{i}" for i in range(0, 250, 2)]
    for name in existing:
        fake.add_repo(name)
    asked = [f"Students/R{i}" for i in range(250)]
    found = gateway.lookup_many(asked)
    assert fake.request_count("graphql") == 3
    assert list(found) == asked
    assert [name for name, info in found.items() if info is None] == [
        f"Students/R{i}" for i in range(1, 250, 2)
    ]
    assert found["Students/R0"] is not None
    assert found["Students/R0"].full_name == "students/r0"


def test_lookup_many_sees_template_parent_and_renames(gateway: PyGithubGateway, fake: FakeGitHub) -> None:
    generated = generate(gateway, "gen")
    fake.add_repo("students/old")
    fake.rename("students/old", "new")
    found = gateway.lookup_many(["students/gen", "students/old", "not-a-full-name"])
    assert found["students/gen"] == generated
    assert found["students/old"] is not None and found["students/old"].name == "new"
    assert found["not-a-full-name"] is None


def test_lookup_many_retries_rate_limits(gateway: PyGithubGateway, fake: FakeGitHub, sleeps: Sleeps) -> None:
    fake.secondary_rate_limit_next("graphql", retry_after=3)
    fake.primary_rate_limit_next("graphql", reset_at=NOW + 10, as_graphql_error=True)
    assert gateway.lookup_many([TEMPLATE])[TEMPLATE] is not None
    assert sleeps == [3.0, 11.0]


def test_graphql_url() -> None:
    assert graphql_url_for("https://api.github.com") == "https://api.github.com/graphql"
    assert graphql_url_for("https://ghe.example.com/api/v3/") == "https://ghe.example.com/api/graphql"
    assert graphql_url_for("http://127.0.0.1:8080") == "http://127.0.0.1:8080/graphql"


# -- closing -----------------------------------------------------------------------------------------


def wait_for_connections(fake: FakeGitHub, count: int, seconds: float = 5.0) -> int:
    """The server notices a closed socket on its own thread: wait (bounded) until it has."""
    deadline = time.monotonic() + seconds
    while fake.open_connections != count and time.monotonic() < deadline:
        time.sleep(0.01)
    return fake.open_connections


def test_with_gateway_closes_its_connection(
    make_gateway: Callable[..., PyGithubGateway], fake: FakeGitHub
) -> None:
    gateway = make_gateway()
    with gateway as entered:
        assert entered is gateway
        assert gateway.get_repo(TEMPLATE) is not None
        assert wait_for_connections(fake, 1) == 1  # keep-alive: the connection stays open
    assert wait_for_connections(fake, 0) == 0


def test_with_gateway_closes_when_the_block_raises(
    make_gateway: Callable[..., PyGithubGateway], fake: FakeGitHub
) -> None:
    with pytest.raises(GitHubNotFound), make_gateway() as gateway:
        gateway.get_repo(TEMPLATE)
        gateway.create_from_template("labs/absent", "students", "lab-1")
    assert wait_for_connections(fake, 0) == 0


def test_close_twice_is_harmless(make_gateway: Callable[..., PyGithubGateway], fake: FakeGitHub) -> None:
    gateway = make_gateway()
    gateway.get_repo(TEMPLATE)
    gateway.close()
    gateway.close()
    assert wait_for_connections(fake, 0) == 0


# -- delete ------------------------------------------------------------------------------------------


def test_delete_is_idempotent(gateway: PyGithubGateway, fake: FakeGitHub) -> None:
    fake.add_repo("students/doomed")
    assert gateway.delete_repo("students/doomed") is True
    assert gateway.delete_repo("students/doomed") is False
    assert fake.get("students/doomed") is None


# -- secrets -----------------------------------------------------------------------------------------


def test_bad_token_is_auth_failed_and_never_leaks(
    make_gateway: Callable[..., PyGithubGateway], fake: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    fake.token = "the-server-wants-another-token"
    gw = make_gateway()
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="github")
    with pytest.raises(GitHubAuthFailed) as caught:
        gw.get_repo(TEMPLATE)
    assert "Bad credentials" in str(caught.value)
    assert any(r.name == "github.Requester" for r in caplog.records)  # PyGithub did log the request
    assert_no_token_in(caught.value, caplog)


def test_server_errors_and_lost_connections_never_leak(
    make_gateway: Callable[..., PyGithubGateway], fake: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    gw = make_gateway(max_attempts=3)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="github")
    fake.fail_next("get_repo", 2)
    fake.lose_response_next("get_repo")
    with pytest.raises(GitHubUnavailable) as caught:
        gw.get_repo(TEMPLATE)
    assert any("retry" in r.getMessage() for r in caplog.records)
    assert_no_token_in(caught.value, caplog)


def test_a_message_echoing_the_token_is_scrubbed(gateway: PyGithubGateway) -> None:
    error = gateway._error_for(
        "get students/x", _github_exception(400, {"message": f"bad header token {TOKEN}"})
    )
    assert secret_free(str(error))


def _github_exception(status: int, data: dict[str, Any]) -> Exception:
    from github import GithubException  # only to build the input of a pure mapping

    return GithubException(status, data, {})


# -- pure helpers ------------------------------------------------------------------------------------


def test_name_exists_matches_both_observed_bodies() -> None:
    if not github_server.CORPUS_AVAILABLE:
        pytest.skip(github_server.CORPUS_MISSING_REASON)
    for name in (
        "repos-create-for-authenticated-user.422.name-exists.2020.observed.json",
        "repos-create-for-authenticated-user.422.name-exists.2025.observed.json",
    ):
        assert says_name_exists(json.loads((github_server.REST_DIR / name).read_text()))
    assert says_name_exists(github_server.GENERATE_NAME_EXISTS_BODY)
    assert not says_name_exists(github_server.VALIDATION_FAILED_BODY)


def test_rate_limit_classification() -> None:
    assert rate_limit_of(500, {"retry-after": "5"}, "", NOW) is None
    assert rate_limit_of(403, {}, "Resource not accessible by integration", NOW) is None
    secondary = rate_limit_of(403, {"retry-after": "5", "x-ratelimit-remaining": "0"}, "", NOW)
    assert secondary is not None and secondary.wait_seconds == 5.0
    primary = rate_limit_of(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(NOW + 9)}, "", NOW)
    assert primary is not None and (primary.kind, primary.wait_seconds) == ("primary rate limit", 10.0)
    unnamed = rate_limit_of(403, {}, "You have exceeded a secondary rate limit.", NOW)
    assert unnamed is not None and unnamed.wait_seconds is None
    bare_429 = rate_limit_of(429, {}, "", NOW)
    assert bare_429 is not None and bare_429.wait_seconds is None


# -- pacer ---------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def test_pacer_honours_the_minute_window() -> None:
    clock = FakeClock()
    pacer = CreationPacer(per_minute=3, per_hour=100, clock=clock, sleep=clock.sleep)
    waits = []
    for _ in range(3):
        waits.append(pacer.acquire())
        clock.now += 1
    waits.append(pacer.acquire())
    assert waits == [0.0, 0.0, 0.0, pytest.approx(57.0)]  # the first grant (t=0) leaves at t=60
    assert clock.now == pytest.approx(60.0)


def test_pacer_honours_the_hour_window() -> None:
    clock = FakeClock()
    pacer = CreationPacer(per_minute=80, per_hour=5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        assert pacer.acquire() == 0.0
        clock.now += 60
    assert pacer.acquire() == pytest.approx(3600 - 300)
    assert pacer.in_flight() == (1, 5)


def test_pacer_is_thread_safe() -> None:
    clock = FakeClock()
    pacer = CreationPacer(per_minute=5, per_hour=500, clock=clock, sleep=clock.sleep)
    threads = [threading.Thread(target=pacer.acquire) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    grants = sorted(pacer._granted)
    assert len(grants) == 20
    assert all(grants[i + 5] - grants[i] >= 60 for i in range(len(grants) - 5))
