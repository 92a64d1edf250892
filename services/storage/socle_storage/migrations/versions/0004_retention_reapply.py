"""A tenant's changed retention not yet applied to all its stored documents: the purge
finishes what a crash interrupted.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from socle.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenant_rules") as batch:
        batch.add_column(sa.Column("reapply_pending_since", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenant_rules") as batch:
        batch.drop_column("reapply_pending_since")
