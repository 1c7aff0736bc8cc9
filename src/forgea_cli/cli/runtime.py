"""What a command needs from its surroundings, built on first use (settings, engine, GitHub)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from forgea_cli.db.engine import Engine
    from forgea_cli.db.uow import UnitOfWorkFactory
    from forgea_cli.settings import Settings


class Runtime:
    def __init__(self, *, debug: bool = False) -> None:
        self.debug = debug
        self._engine: Engine | None = None

    @cached_property
    def settings(self) -> Settings:
        from forgea_cli.settings import Settings

        return Settings()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from forgea_cli.db.engine import engine_from_settings

            self._engine = engine_from_settings(self.settings)
        return self._engine

    @property
    def uow(self) -> UnitOfWorkFactory:
        """Units of work on the configured database: what every service that reads or writes takes."""
        from forgea_cli.db.uow import unit_of_work_factory

        return unit_of_work_factory(self.engine)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def runtime(ctx: typer.Context) -> Runtime:
    root = ctx.find_root()
    if not isinstance(root.obj, Runtime):
        root.obj = Runtime()
        root.call_on_close(root.obj.close)
    return root.obj
