"""Erasure reports: one per erased account, with each service's answer.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from socle.db import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
    )
    op.create_index("ix_erasures_tenant", "erasures", ["tenant"])
    op.create_table(
        "erasure_answers",
        sa.Column(
            "erasure_id",
            sa.String(64),
            sa.ForeignKey("erasures.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("service", sa.String(64), primary_key=True),
        sa.Column("answered_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("erasure_answers")
    op.drop_index("ix_erasures_tenant", table_name="erasures")
    op.drop_table("erasures")
