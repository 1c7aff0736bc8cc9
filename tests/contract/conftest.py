"""The GitHub contract tests need GitHub's descriptions from npm (tests/contract/node, pinned)."""

from __future__ import annotations

import pytest

from tests.contract.descriptions import WORKSPACE, RestDescription, graphql_schema


@pytest.fixture(scope="session")
def descriptions_installed() -> None:
    from tests.interop.webapp import NodeMissing, install_workspace

    try:
        install_workspace(WORKSPACE)
    except NodeMissing as missing:
        pytest.skip(f"GitHub contract tests need Node.js and npm to install @octokit/openapi: {missing}")


@pytest.fixture(scope="session")
def rest(descriptions_installed) -> RestDescription:
    return RestDescription()


@pytest.fixture(scope="session")
def graphql(descriptions_installed):
    return graphql_schema()
