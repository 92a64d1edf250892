"""Exports (right of access): one per request, with each service's part.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from socle.db import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
    )
    op.create_index("ix_exports_tenant", "exports", ["tenant"])
    op.create_table(
        "export_answers",
        sa.Column(
            "export_id",
            sa.String(64),
            sa.ForeignKey("exports.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("service", sa.String(64), primary_key=True),
        sa.Column("answered_at", UTCDateTime(), nullable=False),
        sa.Column("object", sa.String(255), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("export_answers")
    op.drop_index("ix_exports_tenant", table_name="exports")
    op.drop_table("exports")
