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
    def __init__(self, *, debug: bool = False, quiet: bool = False) -> None:
        self.debug = debug
        self.quiet = quiet  # --quiet: no messages on stderr (cli.output.say / warn); data and errors stay
        self.json_output = False  # --json / --format json was given: errors are JSON documents too
        self._engine: Engine | None = None
        self._replica_engine: Engine | None = None

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

    @property
    def replica_uow(self) -> UnitOfWorkFactory:
        """Units of work for read-only reports: the read replica (FORGEA_REPLICA_URL) when one is
        configured, else the primary. Never for anything that writes or must see its own writes."""
        from forgea_cli.db.engine import replica_engine_from_settings
        from forgea_cli.db.uow import unit_of_work_factory

        if self.settings.replica_url is None:
            return self.uow
        if self._replica_engine is None:
            self._replica_engine = replica_engine_from_settings(self.settings)
        return unit_of_work_factory(self._replica_engine)

    @property
    def has_replica(self) -> bool:
        return self.settings.replica_url is not None

    def close(self) -> None:
        for engine in (self._engine, self._replica_engine):
            if engine is not None:
                engine.dispose()
        self._engine = self._replica_engine = None


def runtime(ctx: typer.Context) -> Runtime:
    root = ctx.find_root()
    if not isinstance(root.obj, Runtime):
        root.obj = Runtime()
        root.call_on_close(root.obj.close)
    return root.obj
