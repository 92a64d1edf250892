"""Pairwise subject identifiers and private_key_jwt client authentication.

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
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("jwks", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("subject_type", sa.String(8), nullable=False, server_default="public")
        )
        batch.add_column(sa.Column("sector_identifier", sa.String(255), nullable=True))
    op.create_table(
        "pairwise_subjects",
        sa.Column("sector", sa.String(255), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(32),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("sub", sa.String(64), nullable=False),
        sa.UniqueConstraint("sector", "sub", name="uq_pairwise_subjects_sector"),
    )
    op.create_index("ix_pairwise_subjects_sub", "pairwise_subjects", ["sub"])
    op.create_table(
        "client_assertions",
        sa.Column("jti", sa.String(255), primary_key=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("client_assertions")
    op.drop_table("pairwise_subjects")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("sector_identifier")
        batch.drop_column("subject_type")
        batch.drop_column("jwks")
