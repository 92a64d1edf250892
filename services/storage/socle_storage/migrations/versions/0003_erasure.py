"""Documents whose owner was erased, kept until a hold is lifted or a retention ends.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from socle.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("erasure_requested_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("erasure_requested_at")
