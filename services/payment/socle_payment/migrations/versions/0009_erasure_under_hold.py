"""An erasure that met a legal hold: when it was asked for, so that it is applied once the
hold is lifted.

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
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("erasure_requested_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("erasure_requested_at")
