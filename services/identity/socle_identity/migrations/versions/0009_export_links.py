"""Exports: when the person was told, when the link expires, when the parts were deleted.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from socle.db import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exports") as batch:
        batch.add_column(sa.Column("notified_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("expires_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("deleted_at", UTCDateTime(), nullable=True))
        batch.create_index("ix_exports_expires_at", ["expires_at"])


def downgrade() -> None:
    with op.batch_alter_table("exports") as batch:
        batch.drop_index("ix_exports_expires_at")
        batch.drop_column("deleted_at")
        batch.drop_column("expires_at")
        batch.drop_column("notified_at")
