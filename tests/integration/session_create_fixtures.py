"""Fixtures of the session-creation tests (loaded with `pytest_plugins`; helpers live in
`session_create_support`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from forgea_cli.github.pygithub_gateway import PyGithubGateway
from forgea_cli.testing.github_server import FakeGitHub
from tests.integration.session_create_support import TEMPLATE, TOKEN, Seeded, seed


@pytest.fixture
def seeded(migrated_db: str) -> Seeded:
    return seed(migrated_db)


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as fake:
        fake.add_repo(TEMPLATE, is_template=True)
        yield fake


@pytest.fixture
def make_gateway(fake_github: FakeGitHub) -> Iterator[Callable[..., PyGithubGateway]]:
    """Gateways to the fake whose retry waits are recorded, not slept."""
    made: list[PyGithubGateway] = []

    def make(**options: Any) -> PyGithubGateway:
        settings: dict[str, Any] = {"sleep": lambda _s: None, "timeout": 5, **options}
        made.append(PyGithubGateway(fake_github.url, TOKEN, **settings))
        return made[-1]

    yield make
    for gateway in made:
        gateway.close()


@pytest.fixture
def uow(seeded: Seeded, uow_for):
    """The unit-of-work factory the services take, on the seeded database."""
    return uow_for(seeded.url)
