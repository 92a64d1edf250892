"""Mandates: a mediator files a request for a citizen.

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
        "mandates",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column(
            "request_id",
            sa.String(32),
            sa.ForeignKey("requests.id", name="fk_mandates_request_id_requests"),
            nullable=False,
        ),
        sa.Column("mediator", sa.String(255), nullable=False),
        sa.Column("mediator_name", sa.String(255), nullable=False),
        sa.Column("citizen_name", sa.String(255), nullable=False),
        sa.Column("citizen_email", sa.String(320), nullable=False),
        sa.Column("citizen", sa.String(255), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("document_id", sa.String(64), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_mandates_request_id", "mandates", ["request_id"])
    op.create_index("ix_mandates_mediator", "mandates", ["mediator"])


def downgrade() -> None:
    op.drop_index("ix_mandates_mediator", table_name="mandates")
    op.drop_index("ix_mandates_request_id", table_name="mandates")
    op.drop_table("mandates")
