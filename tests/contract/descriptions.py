"""GitHub's published descriptions, pinned in tests/contract/node (npm), as Python checkers.

- ``RestDescription``: ``@octokit/openapi``'s ``api.github.com.json`` (OpenAPI 3.0.3). Paths are
  matched by their templates; schemas are turned into JSON Schema (draft 2020-12) for ``jsonschema``:
  the components become ``$defs`` (so recursive schemas stay references), ``nullable: true`` becomes a
  ``"null"`` type (OpenAPI 3.0's spelling of what 3.1 and JSON Schema write as a type list).
- ``graphql_schema``: ``@octokit/graphql-schema``'s ``schema.graphql`` for graphql-core.

The workspace is installed with the interop tests' helper (``npm ci`` once per lock file, under a
file lock): ``tests.interop.webapp.install_workspace``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

WORKSPACE = Path(__file__).resolve().parent / "node"
OPENAPI = WORKSPACE / "node_modules" / "@octokit" / "openapi" / "generated" / "api.github.com.json"
GRAPHQL_SCHEMA = WORKSPACE / "node_modules" / "@octokit" / "graphql-schema" / "schema.graphql"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    spec: dict[str, Any]

    @property
    def operation_id(self) -> str:
        return self.spec.get("operationId", f"{self.method} {self.template}")


class RestDescription:
    def __init__(self, path: Path = OPENAPI) -> None:
        self.document = json.loads(path.read_text(encoding="utf-8"))
        self.version = self.document["info"]["version"]

    @cached_property
    def _defs(self) -> dict[str, Any]:
        return {
            name: to_json_schema(schema) for name, schema in self.document["components"]["schemas"].items()
        }

    @cached_property
    def _templates(self) -> list[tuple[re.Pattern[str], str]]:
        def pattern(template: str) -> re.Pattern[str]:
            parts = [
                "[^/]+" if re.fullmatch(r"\{[^}]+\}", segment) else re.escape(segment)
                for segment in template.split("/")
            ]
            return re.compile("^" + "/".join(parts) + "$")

        # The most literal template first: /repos/{owner}/{repo}/forks before a template of 3 parameters.
        return sorted(((pattern(t), t) for t in self.document["paths"]), key=lambda item: item[1].count("{"))

    def operation(self, method: str, path: str) -> Operation | None:
        for pattern, template in self._templates:
            if pattern.match(path):
                spec = self.document["paths"][template].get(method.lower())
                if spec is not None:
                    return Operation(method.upper(), template, spec)
        return None

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """A component reference (parameters, responses, request bodies, headers) followed."""
        while "$ref" in node:
            *_, section, name = node["$ref"].split("/")
            node = self.document["components"][section][name]
        return node

    def parameters(self, operation: Operation) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in (self.resolve(p) for p in operation.spec.get("parameters", []))}

    def request_schema(self, operation: Operation) -> dict[str, Any] | None:
        body = operation.spec.get("requestBody")
        if body is None:
            return None
        media = self.resolve(body)["content"].get("application/json")
        return self.schema(media["schema"]) if media and "schema" in media else None

    def response(self, operation: Operation, status: int) -> dict[str, Any] | None:
        found = operation.spec["responses"].get(str(status))
        return self.resolve(found) if found is not None else None

    def response_schema(self, operation: Operation, status: int) -> dict[str, Any] | None:
        response = self.response(operation, status)
        media = (response or {}).get("content", {}).get("application/json")
        return self.schema(media["schema"]) if media and "schema" in media else None

    def schema(self, openapi_schema: dict[str, Any]) -> dict[str, Any]:
        """A self-contained JSON Schema for one OpenAPI schema (components as $defs)."""
        return {"$schema": DIALECT, "$defs": self._defs, **to_json_schema(openapi_schema)}


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema → JSON Schema 2020-12: references into $defs, ``nullable`` as a null type."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {
        key: to_json_schema(value)
        for key, value in node.items()
        if key not in ("nullable", "example", "examples", "discriminator", "xml", "externalDocs")
        and not key.startswith("x-")
    }
    if "$ref" in converted:
        converted["$ref"] = converted["$ref"].replace("#/components/schemas/", "#/$defs/")
    if node.get("nullable") is True:
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted and None not in converted["enum"]:
                converted["enum"] = [*converted["enum"], None]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


def validate(schema: dict[str, Any], instance: Any) -> list[str]:
    """Every violation as "path: message" (empty when the instance conforms)."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '$'}: {error.message[:300]}"
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    ]


def graphql_schema(path: Path = GRAPHQL_SCHEMA):
    """The schema as published. Its SDL is not valid as is (15.26.1 defines
    ``EnterpriseOwnerInfo.repositoryDeployKeySetting`` and ``…Organizations`` twice), so the SDL
    check is skipped (``assume_valid_sdl``); documents are still validated in full against it."""
    from graphql import build_schema

    return build_schema(path.read_text(encoding="utf-8"), assume_valid_sdl=True)


def graphql_errors(schema, document: str, variables: dict[str, Any] | None = None) -> list[str]:
    from graphql import parse, validate

    try:
        parsed = parse(document)
    except Exception as exc:  # graphql.GraphQLError: a syntax error
        return [f"syntax: {exc}"]
    return [error.message for error in validate(schema, parsed)]
