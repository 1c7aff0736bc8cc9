"""Fixtures of the interop tests: the web app's code laid out with Prisma 7, and real Forgea databases.

Databases are built once per run and cloned per test (PostgreSQL templates):
- ``real_template``: the six real Prisma migrations, as `prisma migrate deploy` applied them;
- ``legacy_template``: that, plus Forgea's seed and one run of the web app's writers ("pre");
- ``rolled_out``: a clone of the legacy database taken through the runbook with the forgea CLI,
  then the web app's writers again ("post").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.interop.support import RUNBOOK, ForgeaCli, Step
from tests.interop.webapp import Layout, NodeMissing, node_tools, prepare_webapp
from tests.pg import Server, unique_name
from tests.real_forgea import build_real_forgea


@pytest.fixture(scope="session")
def webapp(corpus: Path, tmp_path_factory) -> Layout:
    """Forgea's monorepo laid out in tmp with the workspace's Prisma 7; the client generated once."""
    try:
        node_tools()
    except NodeMissing as missing:
        pytest.skip(f"interop tests need Node.js and npm: {missing}")
    if not (corpus / "forgea" / "prisma" / "schema.prisma").is_file():
        pytest.skip(f"the Forgea corpus is not at {corpus / 'forgea'}")
    return prepare_webapp(tmp_path_factory.mktemp("forgea-monorepo"), corpus)


# -- databases -------------------------------------------------------------------------------------------


class Templates:
    """Template databases made during the run, dropped at its end."""

    def __init__(self, pg: Server) -> None:
        self.pg = pg
        self._janitors: list[tuple[str, Any]] = []

    def new(self, prefix: str, *, clone_of: str | None = None) -> str:
        name = unique_name(prefix)
        janitor = self.pg.janitor(name, template=clone_of)
        janitor.init()
        self._janitors.append((name, janitor))
        return name

    def freeze(self, name: str) -> None:
        with self.pg.admin() as conn:
            conn.execute(f'ALTER DATABASE "{name}" WITH is_template true')

    def drop_all(self) -> None:
        for name, janitor in reversed(self._janitors):
            with self.pg.admin() as conn:
                conn.execute(f'ALTER DATABASE "{name}" WITH is_template false')
            janitor.drop()


@pytest.fixture(scope="session")
def templates(pg: Server) -> Iterator[Templates]:
    made = Templates(pg)
    yield made
    made.drop_all()


@pytest.fixture(scope="session")
def real_template(pg: Server, templates: Templates, corpus: Path) -> str:
    """A database built from the web app's six real migrations (no rows but `_prisma_migrations`)."""
    name = templates.new("tpl_real_forgea")
    build_real_forgea(pg.url(name), corpus)
    templates.freeze(name)
    return name


@pytest.fixture
def clone(pg: Server) -> Iterator:
    """clone(template) -> URL of a fresh copy, dropped after the test."""
    janitors = []

    def make(template: str) -> str:
        name = unique_name("t_interop")
        janitor = pg.janitor(name, template=template)
        janitor.init()
        janitors.append(janitor)
        return pg.url(name)

    yield make
    for janitor in janitors:
        janitor.drop()


# -- the forgea CLI ----------------------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path) -> ForgeaCli:
    return ForgeaCli(tmp_path / "forgea-data")


# -- the scenario's shared stages ------------------------------------------------------------------


@dataclass
class LegacyDatabase:
    template: str
    pre: dict[str, Any]  # what the web app's writers printed ("pre")


@pytest.fixture(scope="session")
def legacy_template(pg: Server, templates: Templates, real_template: str, webapp: Layout) -> LegacyDatabase:
    """The real database after Forgea's seed and one run of the web app's writers, before forgea."""
    name = templates.new("tpl_legacy", clone_of=real_template)
    url = pg.url(name)
    webapp.seed(url)
    pre = webapp.script("webapp_writers.ts", "pre", url=url)
    templates.freeze(name)
    return LegacyDatabase(name, pre)


@dataclass
class RolledOut:
    template: str | None  # None when a runbook step failed
    legacy: LegacyDatabase
    steps: list[Step]
    post: dict[str, Any] | None = None  # the web app's writers after the rollout ("post")

    def require(self) -> RolledOut:
        """Fail (not error) a dependent test with the step that broke the rollout."""
        for step in self.steps:
            if step.exit_code != 0:
                pytest.fail(f"the rollout stopped: {step.describe()}")
        assert self.template is not None
        return self


@pytest.fixture(scope="session")
def rolled_out(
    pg: Server, templates: Templates, legacy_template: LegacyDatabase, webapp: Layout, tmp_path_factory
) -> RolledOut:
    """A clone of the legacy database rolled out with the forgea CLI, then written by the web app."""
    name = templates.new("tpl_rolled_out", clone_of=legacy_template.template)
    url = pg.url(name)
    cli = ForgeaCli(tmp_path_factory.mktemp("forgea-data"))
    for args in RUNBOOK:
        if cli(*args, url=url).exit_code != 0:
            return RolledOut(None, legacy_template, cli.steps)
    post = webapp.script("webapp_writers.ts", "post", url=url)
    templates.freeze(name)
    return RolledOut(name, legacy_template, cli.steps, post)
