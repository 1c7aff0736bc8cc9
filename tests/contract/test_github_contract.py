"""The tool's GitHub traffic, through the fake, against GitHub's published REST and GraphQL descriptions."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from forgea_cli.github.gateway import GitHubGateway, HookTarget
from forgea_cli.github.pygithub_gateway import PyGithubGateway
from forgea_cli.testing.github_server import Exchange, FakeGitHub
from tests.contract.descriptions import graphql_errors, validate

TOKEN = "ghp_contract_token_0123456789"
# Endpoints the tool relies on that the REST description does not list, and why each is kept.
UNDESCRIBED = {
    ("GET", "/repositories/{id}"): "GitHub answers it (the canonical URL of a repository by id, and where a "
    "renamed repository's 301 points), but it is not in the published description",
}
GRAPHQL = ("POST", "/graphql")  # GraphQL, checked against the GraphQL schema instead


@pytest.fixture(scope="module")
def traffic() -> tuple[list[Exchange], set[str]]:
    """Every gateway method run against the fake; its recorded exchanges and the methods exercised."""
    with FakeGitHub(token=TOKEN) as fake:
        exercised = _drive(fake)
        return fake.exchanges, exercised


def _drive(fake: FakeGitHub) -> set[str]:
    fake.add_repo("forgea-labs/lab-template", is_template=True)
    fake.add_repo("forgea-labs/student-one", private=True)
    for i in range(3):
        fake.add_repo(f"forgea-labs/extra-{i}")
    now = datetime.now(UTC)
    for hook, hook_id in (("org:forgea-labs", 7), ("repo:forgea-labs/student-one", 42)):
        for i in range(130):  # two pages of 100
            fake.add_hook_delivery(
                hook, hook_id, status_code=200 if i % 9 else 503, delivered_at=now - timedelta(minutes=i),
                payload={"zen": "Speak like a human.", "hook_id": hook_id},
            )  # fmt: skip
    calls: set[str] = set()

    def call(name: str, *args: Any, **kwargs: Any) -> Any:
        calls.add(name)
        return getattr(gateway, name)(*args, **kwargs)

    with PyGithubGateway(fake.url, TOKEN, sleep=lambda _s: None) as gateway:
        call("get_repo", "forgea-labs/student-one")
        call("get_repo", "forgea-labs/no-such-repo")  # 404
        created = call("create_from_template", "forgea-labs/lab-template", "forgea-labs", "lab-x-0001")
        call("get_repo_by_id", created.id)
        call("lookup_many", ["forgea-labs/student-one", "forgea-labs/no-such-repo", "forgea-labs/lab-x-0001"])
        call("list_org_repos", "forgea-labs")
        call("delete_repo", "forgea-labs/lab-x-0001")
        for target, hook_id in (
            (HookTarget("org", "forgea-labs"), 7),
            (HookTarget("repo", "forgea-labs/student-one"), 42),
        ):
            listed = call("list_hook_deliveries", target, hook_id, since=now - timedelta(days=1))
            call("list_hook_deliveries", target, hook_id, status="failure")
            failed = next(d for d in listed if not d.succeeded)
            call("get_hook_delivery", target, hook_id, failed.id)
            call("redeliver_hook_delivery", target, hook_id, failed.id)
    return calls


def _gateway_methods() -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(GitHubGateway, inspect.isfunction)
        if not name.startswith("_") and name != "close"
    }


def _rest(exchanges: list[Exchange]) -> list[Exchange]:
    return [e for e in exchanges if (e.request.method, e.request.path) != GRAPHQL]


def test_every_gateway_method_is_in_the_recorded_traffic(traffic):
    exchanges, exercised = traffic
    assert exercised == _gateway_methods()
    assert {e.status for e in exchanges} >= {200, 201, 202, 204, 404}


def test_every_endpoint_the_tool_calls_is_described_but_the_known_exception(rest, traffic):
    exchanges, _ = traffic
    undescribed = set()
    for exchange in _rest(exchanges):
        if rest.operation(exchange.request.method, exchange.request.path) is None:
            undescribed.add((exchange.request.method, _template_of(exchange.request.path)))
    assert undescribed == set(UNDESCRIBED)


def test_every_query_parameter_and_request_body_validates(rest, traffic):
    exchanges, _ = traffic
    problems = []
    for exchange in _rest(exchanges):
        operation = rest.operation(exchange.request.method, exchange.request.path)
        if operation is None:
            continue
        documented = rest.parameters(operation)
        for name, values in exchange.request.query.items():
            parameter = documented.get(name)
            if parameter is None or parameter["in"] != "query":
                problems.append(f"{operation.operation_id}: undocumented query parameter {name}")
                continue
            value = _typed(values[0], parameter["schema"])
            problems += [
                f"{operation.operation_id} ?{name}: {p}"
                for p in validate(rest.schema(parameter["schema"]), value)
            ]
        schema = rest.request_schema(operation)
        if exchange.request.body:
            assert schema is not None, f"{operation.operation_id} takes no body"
            body = json.loads(exchange.request.body)
            problems += [f"{operation.operation_id} body: {p}" for p in validate(schema, body)]
        elif schema is not None and operation.spec["requestBody"].get("required"):
            problems.append(f"{operation.operation_id}: its required body is missing")
    assert problems == []


def test_every_graphql_document_validates_against_the_schema(graphql, traffic):
    exchanges, _ = traffic
    documents = [
        json.loads(e.request.body) for e in exchanges if (e.request.method, e.request.path) == GRAPHQL
    ]
    assert documents
    for document in documents:
        assert set(document) <= {"query", "variables", "operationName"}
        assert graphql_errors(graphql, document["query"], document.get("variables")) == []


def test_every_answer_of_the_fake_validates_against_the_documented_response(rest, traffic):
    exchanges, _ = traffic
    problems, checked = [], 0
    for exchange in _rest(exchanges):
        operation = rest.operation(exchange.request.method, exchange.request.path)
        if operation is None:
            continue
        response = rest.response(operation, exchange.status)
        if response is None:
            problems.append(f"{operation.operation_id}: status {exchange.status} is not documented")
            continue
        for header in response.get("headers", {}):
            if header.lower() != "link" and header.lower() not in exchange.headers:
                problems.append(f"{operation.operation_id} {exchange.status}: no {header} header")
        schema = rest.response_schema(operation, exchange.status)
        if schema is not None and exchange.body is not None:
            checked += 1
            where = f"{operation.operation_id} {exchange.status}"
            problems += [f"{where}: {p}" for p in validate(schema, exchange.body)]
    assert problems == []
    assert checked >= 10


def test_the_schema_checker_refuses_what_github_would_not_send(rest):
    """The checks have teeth: a repository body without a required field, or with a wrong type, fails."""
    operation = rest.operation("GET", "/repos/o/r")
    schema = rest.response_schema(operation, 200)
    from forgea_cli.testing.github_server import REPO_GET_BODY

    assert validate(schema, REPO_GET_BODY) == [] or "language" not in REPO_GET_BODY
    broken = {k: v for k, v in REPO_GET_BODY.items() if k != "has_issues"} | {"id": "not a number"}
    errors = validate(schema, broken)
    assert any("has_issues" in e for e in errors) and any(e.startswith("id:") for e in errors)


def _template_of(path: str) -> str:
    if path.startswith("/repositories/"):
        return "/repositories/{id}"
    return path


def _typed(value: str, schema: dict[str, Any]) -> Any:
    """A query string value as the type its schema names (query strings are text on the wire)."""
    if schema.get("type") == "integer":
        try:
            return int(value)
        except ValueError:
            return value
    if schema.get("type") == "boolean":
        return {"true": True, "false": False}.get(value, value)
    return value
