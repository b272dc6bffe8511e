"""Job chunks: a running job's rows split into chunks that workers claim under a lease, so any
number of worker processes (on any number of machines, on PostgreSQL with
SELECT … FOR UPDATE SKIP LOCKED) share one job and a killed worker's chunk is taken over
(issue 13, the worker tier). Jobs already running keep their cursor: the first worker to see
such a job splits its remaining rows into chunks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_chunks",
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("chunk_no", sa.Integer, primary_key=True),
        sa.Column("first_row", sa.Integer, nullable=False),
        sa.Column("last_row", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_job_chunks_state", "job_chunks", ["state", "lease_until"])


def downgrade() -> None:
    op.drop_index("ix_job_chunks_state", table_name="job_chunks")
    op.drop_table("job_chunks")
