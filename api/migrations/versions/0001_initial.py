"""Initial schema: API keys, screening records, jobs and their rows, reviewer feedback.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(200), nullable=False),
        _ts("created_at"),
        _ts("revoked_at", True),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("profile", sa.String(64), nullable=True),
        sa.Column("options", JSON, nullable=False),
        sa.Column("total_rows", sa.Integer, nullable=False),
        sa.Column("next_row", sa.Integer, nullable=False),
        sa.Column("done_rows", sa.Integer, nullable=False),
        sa.Column("n_major", sa.Integer, nullable=False),
        sa.Column("n_not_major", sa.Integer, nullable=False),
        sa.Column("n_review", sa.Integer, nullable=False),
        sa.Column("n_error", sa.Integer, nullable=False),
        _ts("created_at"),
        _ts("started_at", True),
        _ts("finished_at", True),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        _ts("lease_until", True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", JSON, nullable=True),
        sa.Column("result_url", sa.String(2000), nullable=True),
        sa.Column("callback_url", sa.String(2000), nullable=True),
        sa.Column("callback_state", sa.String(16), nullable=True),
        sa.Column("callback_attempts", sa.Integer, nullable=False),
        _ts("callback_next_at", True),
        sa.Column("callback_last_error", sa.Text, nullable=True),
    )
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_index("ix_jobs_callback", "jobs", ["callback_state", "callback_next_at"])
    op.create_table(
        "job_rows",
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("row_no", sa.Integer, primary_key=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("error", JSON, nullable=True),
    )
    op.create_table(
        "screenings",
        sa.Column("id", sa.String(32), primary_key=True),
        _ts("created_at"),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=True),
        sa.Column("row_no", sa.Integer, nullable=True),
        sa.Column("input", JSON, nullable=False),
        sa.Column("answer", JSON, nullable=True),
        sa.Column("error", JSON, nullable=True),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("rules_version", sa.String(100), nullable=False),
        sa.UniqueConstraint("job_id", "row_no", name="uq_screenings_job_row"),
    )
    op.create_index("ix_screenings_created_at", "screenings", ["created_at"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("screening_id", sa.String(32), sa.ForeignKey("screenings.id"), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.Column("agree", sa.Boolean, nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("exclusion", sa.String(32), nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("reviewer", sa.String(200), nullable=True),
        _ts("created_at"),
    )
    op.create_index("ix_feedback_screening", "feedback", ["screening_id"])


def downgrade() -> None:
    op.drop_index("ix_feedback_screening", table_name="feedback")
    op.drop_table("feedback")
    op.drop_index("ix_screenings_created_at", table_name="screenings")
    op.drop_table("screenings")
    op.drop_table("job_rows")
    op.drop_index("ix_jobs_callback", table_name="jobs")
    op.drop_index("ix_jobs_status", table_name="jobs")
    op.drop_table("jobs")
    op.drop_table("api_keys")
