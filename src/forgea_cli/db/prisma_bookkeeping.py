"""Prisma's bookkeeping (`_prisma_migrations`), read to recognise a Prisma-built database; never written."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

PRISMA_MIGRATIONS_EXIST = """SELECT to_regclass('public."_prisma_migrations"') IS NOT NULL"""
_EXISTS = text(PRISMA_MIGRATIONS_EXIST)
_ROWS = text(
    "SELECT migration_name, finished_at IS NOT NULL AND rolled_back_at IS NULL AS done "
    'FROM "_prisma_migrations" ORDER BY started_at, migration_name'
)


@dataclass(frozen=True)
class PrismaMigration:
    name: str
    done: bool  # finished and not rolled back


def prisma_migrations(connection: Connection) -> list[PrismaMigration] | None:
    """Every row, oldest first; None when the database has no `_prisma_migrations` table."""
    if not connection.execute(_EXISTS).scalar():
        return None
    return [PrismaMigration(name, bool(done)) for name, done in connection.execute(_ROWS).all()]
