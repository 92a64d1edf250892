"""The shared catalogue between communes: shared procedures and adoptions.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from socle.db import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shared_procedures",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("slug", sa.String(64), primary_key=True),
        sa.Column("shared_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "adoptions",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("slug", sa.String(64), primary_key=True),
        sa.Column("source_tenant", sa.String(64), nullable=False),
        sa.Column("source_slug", sa.String(64), nullable=False),
        sa.Column("source_version", sa.Integer(), nullable=False),
        sa.Column("adopted_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("adoptions")
    op.drop_table("shared_procedures")
