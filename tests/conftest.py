"""Fixtures shared by every test: a real PostgreSQL server and fresh databases cloned from templates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from forgea_cli.testing.corpus import corpus_dir  # the one place the corpus is found
from tests.pg import Server, test_server, unique_name

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def corpus() -> Path:
    path = corpus_dir()
    if not path.is_dir():
        pytest.skip(f"test corpus not found at {path} (set FORGEA_CORPUS_DIR to its folder)")
    return path


@pytest.fixture(scope="session")
def pg() -> Iterator[Server]:
    with test_server() as server:
        yield server


def _build_template(pg: Server, prefix: str, build) -> Iterator[str]:
    name = unique_name(prefix)
    janitor = pg.janitor(name)
    janitor.init()
    try:
        build(pg.url(name))
        with pg.admin() as conn:
            conn.execute(f'ALTER DATABASE "{name}" WITH is_template true')
        yield name
    finally:
        with pg.admin() as conn:
            conn.execute(f'ALTER DATABASE "{name}" WITH is_template false')
        janitor.drop()


def migrate_to(url: str, revision: str = "head") -> None:
    from forgea_cli.db import migrations
    from forgea_cli.db.engine import make_engine

    engine = make_engine(url)
    try:
        migrations.upgrade(engine, revision)
    finally:
        engine.dispose()


def load_prisma_replica(url: str) -> None:
    from forgea_cli.db.fixtures import load_prisma_baseline

    load_prisma_baseline(url)


@pytest.fixture(scope="session")
def head_template(pg: Server) -> Iterator[str]:
    yield from _build_template(pg, "tpl_head", migrate_to)


def load_prisma_database(url: str) -> None:
    """The web app's own Prisma migrations where the corpus is present, else our replica of them."""
    if corpus_dir().is_dir():
        from tests.real_forgea import build_real_forgea

        build_real_forgea(url, corpus_dir())
    else:
        load_prisma_replica(url)


def prisma_migration_names() -> list[str]:
    """What `_prisma_migrations` of the `prisma_db` fixture holds, oldest first."""
    if corpus_dir().is_dir():
        from tests.real_forgea import real_migrations

        return [m.name for m in real_migrations(corpus_dir())]
    return [
        "20240110093000_init",
        "20240115120000_append_only_guards",
        "20240120080000_lab_session_lifecycle",
    ]


@pytest.fixture(scope="session")
def prisma_template(pg: Server) -> Iterator[str]:
    yield from _build_template(pg, "tpl_prisma", load_prisma_database)


def _fresh_database(pg: Server, template: str | None) -> Iterator[str]:
    name = unique_name("t")
    with pg.janitor(name, template=template):
        yield pg.url(name)


@pytest.fixture
def empty_db(pg: Server) -> Iterator[str]:
    """URL of a new, empty database."""
    yield from _fresh_database(pg, None)


@pytest.fixture
def migrated_db(pg: Server, head_template: str) -> Iterator[str]:
    """URL of a new database at the head revision."""
    yield from _fresh_database(pg, head_template)


@pytest.fixture
def prisma_db(pg: Server, prisma_template: str) -> Iterator[str]:
    """URL of a new database as Prisma built it (not adopted): the real migrations when the corpus is here."""
    yield from _fresh_database(pg, prisma_template)


@pytest.fixture
def engine_for():
    """Make engines for database URLs and dispose of them after the test."""
    from forgea_cli.db.engine import make_engine

    engines = []

    def make(url: str):
        engines.append(make_engine(url))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def uow_for(engine_for):
    """A unit-of-work factory for a database URL (what services take); engines disposed afterwards."""
    from forgea_cli.db.uow import unit_of_work_factory

    def make(url: str):
        return unit_of_work_factory(engine_for(url))

    return make


@pytest.fixture
def forgea(tmp_path):
    """Run the CLI in-process (Typer's CliRunner) against a database URL; returns the Result."""
    from typer.testing import CliRunner

    from forgea_cli.cli.app import app

    runner = CliRunner()

    def run(*args: str, url: str | None = None, env: dict[str, str] | None = None, input: str | None = None):
        full_env = {"FORGEA_DATA_DIR": str(tmp_path / "forgea-data"), "FORGEA_ACTOR": "test:operator"}
        if url is not None:
            full_env["FORGEA_DATABASE_URL"] = url
        full_env.update(env or {})
        return runner.invoke(app, list(args), env=full_env, input=input)

    return run


# -- the CI log says whether the web app's own code and GitHub's descriptions were met -----------

CHECKED_AGAINST_OTHERS = {
    "tests/interop/": "interop (the web app's own Prisma code)",
    "tests/contract/": "contract (@octokit/openapi, @octokit/graphql-schema)",
}


def pytest_terminal_summary(terminalreporter) -> None:
    for prefix, title in CHECKED_AGAINST_OTHERS.items():
        counts: dict[str, int] = {}
        for outcome in ("passed", "failed", "error", "skipped"):
            # A test passes in its call phase; it can fail, error or be skipped in setup too.
            phases = ("call",) if outcome == "passed" else ("setup", "call")
            reports = terminalreporter.stats.get(outcome, [])
            found = sum(1 for r in reports if r.nodeid.startswith(prefix) and r.when in phases)
            if found:
                counts[outcome] = found
        if counts:
            figures = ", ".join(f"{n} {outcome}" for outcome, n in counts.items())
            terminalreporter.write_line(f"{title}: {figures}")
