"""The fake GitHub by itself, over raw HTTP: routes, shapes, state and fault knobs."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from forgea_cli.testing import github_server
from forgea_cli.testing.github_server import FIRST_REPO_ID, FakeGitHub, LoggedRequest

TOKEN = "fake-server-token-0123456789"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: Any) -> None:
        self.status, self.headers, self.body = status, headers, body


def call(fake: FakeGitHub, method: str, path: str, body: Any = None, token: str | None = TOKEN) -> Answer:
    parts = urlsplit(fake.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"token {token}"
    try:
        connection.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = connection.getresponse()
        raw = response.read()
        answer_headers = {k.lower(): v for k, v in response.getheaders()}
        return Answer(response.status, answer_headers, json.loads(raw) if raw else None)
    finally:
        connection.close()


def needs_corpus() -> None:
    if not github_server.CORPUS_AVAILABLE:
        pytest.skip(github_server.CORPUS_MISSING_REASON)


def corpus_json(name: str) -> Any:
    return json.loads((github_server.REST_DIR / name).read_text(encoding="utf-8"))


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as server:
        server.add_repo("labs/template", is_template=True)
        yield server


# -- state and routes ------------------------------------------------------------------------------


def test_ids_increase_from_a_large_base_and_lookups_ignore_case(fake: FakeGitHub) -> None:
    second = fake.add_repo("Org/Second")
    assert [r.id for r in fake.repos()] == [FIRST_REPO_ID, FIRST_REPO_ID + 1]
    answer = call(fake, "GET", "/repos/org/SECOND")
    assert answer.status == 200
    assert answer.body["id"] == second.id
    assert answer.body["full_name"] == "Org/Second"


def test_get_by_id_and_404(fake: FakeGitHub) -> None:
    assert call(fake, "GET", f"/repositories/{FIRST_REPO_ID}").body["full_name"] == "labs/template"
    missing = call(fake, "GET", "/repos/labs/nothing")
    assert missing.status == 404
    assert missing.body["message"] == "Not Found"
    assert call(fake, "GET", "/repositories/1").status == 404


def test_repo_body_has_the_corpus_shape(fake: FakeGitHub) -> None:
    needs_corpus()
    corpus = corpus_json("repos-get.200.openapi.json")
    body = call(fake, "GET", "/repos/labs/template").body
    related = {"template_repository", "parent", "source"}
    assert set(corpus) - related <= set(body)
    assert set(corpus["owner"]) <= set(body["owner"])
    assert body["url"] == f"{fake.url}/repos/labs/template"
    assert body["html_url"] == "https://github.com/labs/template"
    assert body["owner"]["login"] == "labs"
    assert body["is_template"] is True


def test_generate_records_the_template_and_answers_201(fake: FakeGitHub) -> None:
    payload = {"owner": "students", "name": "lab-1", "private": True, "include_all_branches": False}
    answer = call(fake, "POST", "/repos/labs/template/generate", payload)
    assert answer.status == 201
    assert answer.body["template_repository"]["full_name"] == "labs/template"
    assert answer.body["private"] is True
    created = fake.get("students/lab-1")
    assert created is not None
    assert created.template_id == FIRST_REPO_ID


def test_generate_refuses_a_taken_name_with_the_observed_body(fake: FakeGitHub) -> None:
    needs_corpus()
    fake.add_repo("students/lab-1")
    answer = call(fake, "POST", "/repos/labs/template/generate", {"owner": "students", "name": "LAB-1"})
    assert answer.status == 422
    assert "name already exists on this account" in answer.body["message"].lower()
    assert len(fake.repos()) == 2


def test_generate_from_missing_or_non_template_repo(fake: FakeGitHub) -> None:
    fake.add_repo("labs/plain")
    assert call(fake, "POST", "/repos/labs/none/generate", {"owner": "o", "name": "n"}).status == 404
    assert call(fake, "POST", "/repos/labs/plain/generate", {"owner": "o", "name": "n"}).status == 422


def test_fork_records_parent_and_may_answer_404_until_ready(fake: FakeGitHub) -> None:
    fake.fork_ready_after(1)
    payload = {"organization": "students", "name": "fork-1", "default_branch_only": True}
    answer = call(fake, "POST", "/repos/labs/template/forks", payload)
    assert answer.status == 202
    assert answer.body["parent"]["full_name"] == "labs/template"
    assert answer.body["fork"] is True
    assert call(fake, "GET", "/repos/students/fork-1").status == 404
    assert call(fake, "GET", "/repos/students/fork-1").status == 200


def test_fork_name_taken_uses_the_corpus_422(fake: FakeGitHub) -> None:
    needs_corpus()
    fake.add_repo("students/fork-1")
    answer = call(fake, "POST", "/repos/labs/template/forks", {"organization": "students", "name": "fork-1"})
    assert answer.status == 422
    assert answer.body == corpus_json(
        "repos-create-for-authenticated-user.422.name-exists.2025.observed.json"
    )


def test_rename_keeps_the_id_and_the_old_name_answers_301(fake: FakeGitHub) -> None:
    needs_corpus()
    repo = fake.add_repo("students/old")
    fake.rename("students/old", "new")
    answer = call(fake, "GET", "/repos/students/old")
    assert answer.status == 301
    assert answer.headers["location"] == f"{fake.url}/repositories/{repo.id}"
    assert set(answer.body) == set(corpus_json("repos-get.301.renamed.recorded.json"))
    assert call(fake, "GET", "/repos/students/new").body["id"] == repo.id
    assert call(fake, "DELETE", "/repos/students/old").status == 307


def test_delete_then_404(fake: FakeGitHub) -> None:
    fake.add_repo("students/gone")
    assert call(fake, "DELETE", "/repos/students/gone").status == 204
    assert call(fake, "DELETE", "/repos/students/gone").status == 404
    assert fake.get("students/gone") is None


def test_org_repos_paginate_with_link_headers(fake: FakeGitHub) -> None:
    for i in range(5):
        fake.add_repo(f"students/r{i}")
    first = call(fake, "GET", "/orgs/students/repos?per_page=2")
    assert [r["name"] for r in first.body] == ["r0", "r1"]
    assert 'rel="next"' in first.headers["link"]
    assert "page=3" in first.headers["link"]  # rel="last"
    last = call(fake, "GET", "/orgs/STUDENTS/repos?per_page=2&page=3")
    assert [r["name"] for r in last.body] == ["r4"]
    assert 'rel="next"' not in last.headers["link"]


def test_graphql_answers_aliases_and_not_found_errors(fake: FakeGitHub) -> None:
    query = (
        'query { r0: repository(owner: "LABS", name: "template") { databaseId } '
        'r1: repository(owner: "labs", name: "missing") { databaseId } }'
    )
    body = call(fake, "POST", "/graphql", {"query": query}).body
    assert body["data"]["r0"]["databaseId"] == FIRST_REPO_ID
    assert body["data"]["r0"]["nameWithOwner"] == "labs/template"
    assert body["data"]["r1"] is None
    assert body["errors"] == [
        {
            "type": "NOT_FOUND",
            "path": ["r1"],
            "locations": [{"line": 1, "column": 1}],
            "message": "Could not resolve to a Repository with the name 'labs/missing'.",
        }
    ]


def test_graphql_accepts_variables(fake: FakeGitHub) -> None:
    query = "query($o: String!, $n: String!) { repository(owner: $o, name: $n) { databaseId } }"
    body = call(fake, "POST", "/graphql", {"query": query, "variables": {"o": "labs", "n": "template"}}).body
    assert body == {"data": {"repository": body["data"]["repository"]}}
    assert body["data"]["repository"]["databaseId"] == FIRST_REPO_ID


def test_rate_limit_and_user_endpoints(fake: FakeGitHub) -> None:
    assert "resources" in call(fake, "GET", "/rate_limit").body
    assert call(fake, "GET", "/user").body["login"] == "forgea-bot"


# -- auth ------------------------------------------------------------------------------------------


def test_token_is_required_when_configured(fake: FakeGitHub) -> None:
    assert call(fake, "GET", "/user", token=None).status == 401
    wrong = call(fake, "GET", "/user", token="wrong")
    assert wrong.status == 401
    assert wrong.body["message"] == "Bad credentials"
    assert call(fake, "GET", "/user", token=TOKEN).status == 200


def test_bearer_scheme_is_accepted(fake: FakeGitHub) -> None:
    parts = urlsplit(fake.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    connection.request("GET", "/user", headers={"Authorization": f"Bearer {TOKEN}"})
    assert connection.getresponse().status == 200
    connection.close()


# -- knobs -------------------------------------------------------------------------------------------


def test_fail_next_answers_the_status_then_recovers(fake: FakeGitHub) -> None:
    fake.fail_next("get_repo", 2, status=502)
    statuses = [call(fake, "GET", "/repos/labs/template").status for _ in range(3)]
    assert statuses == [502, 502, 200]
    assert fake.request_count("get_repo") == 3
    assert fake.request_log[-1] == LoggedRequest("GET", "/repos/labs/template", 200)


def test_lost_response_still_performs_the_action(fake: FakeGitHub) -> None:
    fake.lose_response_next("generate")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        call(fake, "POST", "/repos/labs/template/generate", {"owner": "s", "name": "lost"})
    assert fake.get("s/lost") is not None
    assert fake.request_log[-1].status == 0


def test_reject_with_422_does_nothing(fake: FakeGitHub) -> None:
    fake.reject_with_422_next("fork")
    answer = call(fake, "POST", "/repos/labs/template/forks", {"organization": "s", "name": "f"})
    assert answer.status == 422
    assert fake.get("s/f") is None


def test_primary_rate_limit_headers(fake: FakeGitHub) -> None:
    fake.primary_rate_limit_next("get_repo", reset_at=2_000_000_000)
    answer = call(fake, "GET", "/repos/labs/template")
    assert answer.status == 403
    assert answer.headers["x-ratelimit-remaining"] == "0"
    assert answer.headers["x-ratelimit-reset"] == "2000000000"
    if github_server.CORPUS_AVAILABLE:
        assert answer.body == corpus_json("rate-limit.403.primary.legacy-2013.recorded.json")


def test_primary_rate_limit_reset_in_is_relative_to_now(fake: FakeGitHub) -> None:
    fake.primary_rate_limit_next("user", reset_in=30)
    reset = int(call(fake, "GET", "/user").headers["x-ratelimit-reset"])
    assert time.time() + 25 < reset <= time.time() + 31


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_with_and_without_retry_after(fake: FakeGitHub, status: int) -> None:
    fake.secondary_rate_limit_next("graphql", retry_after=12, status=status)
    fake.secondary_rate_limit_next("graphql", retry_after=None, status=status)
    with_header = call(fake, "POST", "/graphql", {"query": "{}"})
    without = call(fake, "POST", "/graphql", {"query": "{}"})
    assert (with_header.status, with_header.headers["retry-after"]) == (status, "12")
    assert without.status == status
    assert "retry-after" not in without.headers
    assert "secondary rate limit" in with_header.body["message"]


def test_graphql_style_primary_rate_limit(fake: FakeGitHub) -> None:
    fake.primary_rate_limit_next("graphql", reset_in=5, as_graphql_error=True)
    answer = call(fake, "POST", "/graphql", {"query": "{}"})
    assert answer.status == 200
    assert answer.body["errors"][0]["type"] == "RATE_LIMITED"
    assert answer.headers["x-ratelimit-resource"] == "graphql"


def test_faults_queue_in_order(fake: FakeGitHub) -> None:
    fake.fail_next("user", 1, status=503)
    fake.secondary_rate_limit_next("user", retry_after=1)
    assert [call(fake, "GET", "/user").status for _ in range(3)] == [503, 403, 200]


def test_creation_cap_refuses_beyond_the_sliding_minute(fake: FakeGitHub) -> None:
    fake.creation_cap(2, clock_scale=600.0)  # the fake's minute lasts 0.1 s
    statuses = [
        call(fake, "POST", "/repos/labs/template/generate", {"owner": "s", "name": f"c{i}"}).status
        for i in range(3)
    ]
    assert statuses == [201, 201, 403]
    assert fake.refused_by_cap == 1
    time.sleep(0.15)
    assert call(fake, "POST", "/repos/labs/template/generate", {"owner": "s", "name": "c3"}).status == 201


def test_latency_delays_answers(fake: FakeGitHub) -> None:
    fake.latency_seconds = 0.05
    started = time.monotonic()
    call(fake, "GET", "/user")
    assert time.monotonic() - started >= 0.05


def test_reset_forgets_everything(fake: FakeGitHub) -> None:
    fake.fail_next("user", 3)
    call(fake, "GET", "/user")
    fake.reset()
    assert fake.repos() == []
    assert fake.request_count() == 0
    assert call(fake, "GET", "/user").status == 200
    assert fake.add_repo("a/b").id == FIRST_REPO_ID


def test_builtin_shape_is_used_without_the_corpus(tmp_path: Path) -> None:
    code = (
        "from forgea_cli.testing import github_server as g; "
        "print(g.CORPUS_AVAILABLE, g.REPO_GET_BODY['full_name'], g.CORPUS_MISSING_REASON)"
    )
    env = {**os.environ, "FORGEA_CORPUS_DIR": str(tmp_path / "absent")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("False octocat/Hello-World corpus not found at ")


def test_standalone_server_serves_until_terminated() -> None:
    command = [
        sys.executable,
        "-m",
        "forgea_cli.testing.github_server",
        "--port",
        "0",
        "--template",
        "labs/t",
    ]
    with subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("FakeGitHub listening on http://127.0.0.1:")
            parts = urlsplit(line.split()[-1])
            connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
            connection.request("GET", "/repos/labs/t")
            response = connection.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["is_template"] is True
            connection.close()
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert process.returncode == 0  # SIGTERM stops the server cleanly
