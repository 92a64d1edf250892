"""Per-tenant sender: the From name and address and the Reply-To of a commune's mails.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from socle.db import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_senders",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("from_name", sa.String(200), nullable=False),
        sa.Column("from_address", sa.String(320), nullable=False),
        sa.Column("reply_to", sa.String(320), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tenant_senders")
