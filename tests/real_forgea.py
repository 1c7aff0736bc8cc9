"""Forgea's database as production has it: the web app's Prisma migrations, applied as `migrate deploy` does.

``build_real_forgea(url, corpus)`` applies the six ``migration.sql`` files of
``<corpus>/forgea/prisma/migrations/`` in folder order on an empty database and records them in
``_prisma_migrations`` exactly as ``prisma migrate deploy`` writes that table (id uuid text,
checksum = sha256 hex of the file's bytes, migration_name = folder name, started_at, finished_at,
applied_steps_count = 1). The files are read from the corpus at call time, never copied.

Only psycopg and the standard library are used, so any part of the suite (or a template builder)
can call it. ``url`` may be a libpq URL (``postgresql://``) or a SQLAlchemy one
(``postgresql+psycopg://``, as ``tests.pg.Server.url`` returns).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

# The table `prisma migrate deploy` creates before it applies the first migration (schema engine,
# PostgreSQL flavour). Unquoted in Prisma's DDL; the name is lower case either way.
PRISMA_MIGRATIONS_DDL = """
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)
"""


@dataclass(frozen=True)
class PrismaMigration:
    name: str  # the folder name, e.g. 20260124065750_init_trust_schema
    path: Path  # .../<name>/migration.sql
    checksum: str  # sha256 hex of the file's bytes


def forgea_migrations_dir(corpus: Path) -> Path:
    """``corpus`` is the corpus root (``../shared/corpus``) or its ``forgea`` folder."""
    corpus = Path(corpus)
    for candidate in (corpus / "forgea" / "prisma" / "migrations", corpus / "prisma" / "migrations"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"no forgea/prisma/migrations folder under {corpus}")


def real_migrations(corpus: Path) -> list[PrismaMigration]:
    """The web app's migrations in `prisma migrate deploy` order (folder names sort by time)."""
    folder = forgea_migrations_dir(corpus)
    result = []
    for directory in sorted(p for p in folder.iterdir() if p.is_dir()):
        sql_file = directory / "migration.sql"
        if sql_file.is_file():
            checksum = hashlib.sha256(sql_file.read_bytes()).hexdigest()
            result.append(PrismaMigration(directory.name, sql_file, checksum))
    if not result:
        raise FileNotFoundError(f"no */migration.sql under {folder}")
    return result


def libpq_url(url: str) -> str:
    """A URL psycopg (and node-postgres) accepts: drops SQLAlchemy's ``+driver`` suffix."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url  # a key=value conninfo string
    return f"{scheme.split('+', 1)[0]}://{rest}"


def build_real_forgea(url: str, corpus: Path) -> list[PrismaMigration]:
    """Apply Forgea's six Prisma migrations to the empty database at ``url``, as `migrate deploy` does.

    Each migration runs as one multi-statement script (simple query protocol, one implicit
    transaction), between the INSERT of its `_prisma_migrations` row and the UPDATE that finishes
    it. Returns the migrations applied, in order.
    """
    migrations = real_migrations(corpus)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(PRISMA_MIGRATIONS_DDL)
        for migration in migrations:
            row_id = str(uuid.uuid4())
            conn.execute(
                'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, '
                "applied_steps_count) VALUES (%s, %s, %s, now(), 0)",
                (row_id, migration.checksum, migration.name),
            )
            conn.execute(migration.path.read_text(encoding="utf-8"))
            conn.execute(
                'UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = %s',
                (row_id,),
            )
    return migrations
