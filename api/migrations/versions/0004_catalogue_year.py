"""The catalogue year (issue 12): a decision per job row, numbered catalogue versions of
mid-year adjustments, the change log, and the ticks of the shared procedure board.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _job() -> sa.Column:
    return sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "row_decisions", _job(),
        sa.Column("row_no", sa.Integer, primary_key=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.Column("reviewer", sa.String(200), nullable=True),
        _ts("decided_at"),
        sa.Column("added_version", sa.Integer, nullable=True),
        sa.Column("withdrawn_version", sa.Integer, nullable=True),
    )
    op.create_table(
        "catalogue_versions", _job(),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.Column("reviewer", sa.String(200), nullable=True),
        _ts("created_at"),
    )
    op.create_table(
        "catalogue_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("row_no", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("details", JSON, nullable=True),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.Column("reviewer", sa.String(200), nullable=True),
        _ts("created_at"),
    )
    op.create_index("ix_catalogue_changes_job", "catalogue_changes", ["job_id", "id"])
    op.create_table(
        "procedure_ticks", _job(),
        sa.Column("row_no", sa.Integer, primary_key=True),
        sa.Column("procedure", sa.String(32), primary_key=True),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.Column("reviewer", sa.String(200), nullable=True),
        _ts("ticked_at"),
    )


def downgrade() -> None:
    op.drop_table("procedure_ticks")
    op.drop_index("ix_catalogue_changes_job", table_name="catalogue_changes")
    op.drop_table("catalogue_changes")
    op.drop_table("catalogue_versions")
    op.drop_table("row_decisions")
