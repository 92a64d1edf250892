"""Signing keys sealed with the key-encryption key (the column is renamed; the service seals
the rows left in clear at its next start), remembered consents, and the last TOTP time step
accepted per person (a code works once).

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
    with op.batch_alter_table("signing_keys") as batch:
        batch.alter_column("private_pem", new_column_name="private_key_sealed")
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "consents",
        sa.Column(
            "user_id",
            sa.String(32),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "client_id",
            sa.String(64),
            sa.ForeignKey("clients.client_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("granted_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    # Sealed keys stay sealed: a downgrade needs new signing keys (rotate them after).
    op.drop_table("consents")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("totp_last_step")
    with op.batch_alter_table("signing_keys") as batch:
        batch.alter_column("private_key_sealed", new_column_name="private_pem")
