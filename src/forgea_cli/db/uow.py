"""Unit of work: one connection, one transaction, rolled back unless `commit()` was called."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from forgea_cli.db.engine import unreachable


class UnitOfWork:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._committed = False
        self.connection: Connection

    def __enter__(self) -> UnitOfWork:
        try:
            self.connection = self._engine.connect()
        except OperationalError as exc:
            raise unreachable(self._engine.url.render_as_string(hide_password=False)) from exc
        self._transaction = self.connection.begin()
        return self

    def commit(self) -> None:
        self._transaction.commit()
        self._committed = True

    def rollback(self) -> None:
        if self._transaction.is_active:
            self._transaction.rollback()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self._committed:
                self.rollback()
        finally:
            self.connection.close()
