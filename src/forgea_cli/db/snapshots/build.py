"""Rebuild the expected snapshots: migrate a scratch database one revision at a time and record each.

Usage: python -m forgea_cli.db.snapshots.build ADMIN_URL   (a server where a scratch db may be created)
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from forgea_cli.db import migrations
from forgea_cli.db.catalog import snapshot
from forgea_cli.db.engine import connect, make_engine, sqlalchemy_url
from forgea_cli.db.snapshots import dump_snapshot

SNAPSHOT_DIR = Path(__file__).resolve().parent


def build_all(scratch_url: str) -> dict[str, str]:
    """Snapshot text per revision, in migration order."""
    engine = make_engine(scratch_url)
    result = {}
    try:
        for revision in migrations.history():
            migrations.upgrade(engine, revision.revision)
            with connect(engine) as connection:
                result[revision.revision] = dump_snapshot(snapshot(connection))
    finally:
        engine.dispose()
    return result


def with_scratch_database(admin_url: str, work):
    admin = create_engine(sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT")
    name = f"forgea_snapshot_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        return work(make_url(sqlalchemy_url(admin_url)).set(database=name).render_as_string(False))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: list[str]) -> int:
    texts = with_scratch_database(argv[0], build_all)
    for revision, content in texts.items():
        (SNAPSHOT_DIR / f"{revision}.json").write_text(content, encoding="utf-8")
        print(f"wrote {revision}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
