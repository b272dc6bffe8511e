"""Alembic environment: uses the connection the service hands over (api.db.migrate), or
builds one from sqlalchemy.url / DATABASE_URL / the default SQLite file when run by hand."""
from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import text

from api.db import Database, metadata
from api.settings import from_env

config = context.config
if config.config_file_name is not None and config.attributes.get("connection") is None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# Held for the whole migration so that two servers starting together migrate one at a time.
PG_MIGRATION_LOCK = 0x6473_6D69  # "dsmi"


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_MIGRATION_LOCK})
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url") or from_env().db_url,
                      target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    db = Database(config.get_main_option("sqlalchemy.url") or from_env().db_url)
    try:
        with db.write_engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        db.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
