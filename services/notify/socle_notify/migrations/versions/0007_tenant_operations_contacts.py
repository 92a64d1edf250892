"""Per-tenant operations contacts: where a commune's alerts go.

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
        "tenant_operations_contacts",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("emails", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tenant_operations_contacts")
