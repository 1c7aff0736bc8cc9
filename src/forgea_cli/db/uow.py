"""Unit of work: one connection, one transaction, rolled back unless `commit()` was called.

Services receive a `UnitOfWorkFactory` (never an engine) and open units of work from it:

    with uow_factory() as uow:
        sessions.insert(uow.connection, ...)
        uow.commit()

- `commit()` may be called more than once: a batching job commits each batch and goes on in a new
  transaction on the same connection (its session settings and temporary tables survive);
- `savepoint()` scopes a statement that may be refused without losing the transaction;
- ``autocommit=True`` gives a connection outside any transaction (CREATE INDEX CONCURRENTLY,
  VACUUM, advisory locks held across batches);
- driver errors leave a unit of work (or a savepoint) as the typed errors of `forgea_cli.db.errors`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from forgea_cli.db.engine import open_connection
from forgea_cli.db.errors import translate

__all__ = ["Connection", "UnitOfWork", "UnitOfWorkFactory", "unit_of_work_factory"]


class UnitOfWork:
    def __init__(self, engine: Engine, *, autocommit: bool = False, read_only: bool = False) -> None:
        self._engine = engine
        self._autocommit = autocommit
        self._read_only = read_only
        self.connection: Connection

    def __enter__(self) -> UnitOfWork:
        connection = open_connection(self._engine)
        if self._autocommit:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        self.connection = connection
        if not self._autocommit:
            self._begin()
        return self

    def _begin(self) -> None:
        self._transaction = self.connection.begin()
        if self._read_only:
            from sqlalchemy import text

            self.connection.execute(text("SET TRANSACTION READ ONLY"))

    def commit(self) -> None:
        """Commit what was done; a further statement starts the next transaction."""
        if self._autocommit:
            return
        self._transaction.commit()
        self._begin()

    def rollback(self) -> None:
        if not self._autocommit and self._transaction.is_active:
            self._transaction.rollback()
            self._begin()

    @contextmanager
    def savepoint(self, *, keep: bool = True) -> Iterator[None]:
        """A nested transaction: released on success (or rolled back anyway with ``keep=False``),
        rolled back when the block raises, the driver's error turned into a typed one."""
        nested = self.connection.begin_nested()
        try:
            yield
        except DBAPIError as exc:
            nested.rollback()
            raise translate(exc) from exc
        except BaseException:
            nested.rollback()
            raise
        if keep:
            nested.commit()
        else:
            nested.rollback()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self._autocommit and self._transaction.is_active:
                self._transaction.rollback()  # what was not committed is never saved
        finally:
            self.connection.close()
        if isinstance(exc, DBAPIError):
            raise translate(exc) from exc


class UnitOfWorkFactory(Protocol):
    """What services are handed: a way to open units of work. db/ code that must run its own
    connection discipline (the Alembic runner, COPY streams) reaches the engine through it."""

    @property
    def engine(self) -> Engine: ...

    def __call__(self, *, autocommit: bool = False, read_only: bool = False) -> UnitOfWork: ...


class _Factory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, *, autocommit: bool = False, read_only: bool = False) -> UnitOfWork:
        return UnitOfWork(self.engine, autocommit=autocommit, read_only=read_only)


def unit_of_work_factory(engine: Engine) -> UnitOfWorkFactory:
    return _Factory(engine)
