"""Alembic environment for forgea.

Online runs always receive their connection from `forgea_cli.db.migrations` (which holds the advisory
lock and sets the timeouts); offline runs (`--dry-run`) only render SQL.
"""

from __future__ import annotations

from alembic import context

config = context.config
DEFAULTS = {"lock_timeout": "5s", "statement_timeout": "30min"}


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or "postgresql+psycopg://",
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        transaction_per_migration=True,
        output_buffer=config.output_buffer,
    )
    # The same session settings the online runner applies, so the rendered SQL is safe to run as is.
    for name in ("lock_timeout", "statement_timeout"):
        context.execute(f"SET {name} = '{config.attributes.get(name, DEFAULTS[name])}'")
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes["connection"]
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
