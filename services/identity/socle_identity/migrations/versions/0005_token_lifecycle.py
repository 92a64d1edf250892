"""Token lifecycle: clients can be disabled, codes and refresh tokens remember the login
session, and one deny list keyed by claim (jti, sid, gid, client_id) replaces the list of
revoked jti.

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

FOREVER = 4102444800  # 2100-01-01: a revoked jti refuses that token whatever its iat


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("disabled_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("authorization_codes") as batch:
        batch.add_column(sa.Column("session_id", sa.String(64), nullable=True))
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.add_column(sa.Column("session_id", sa.String(64), nullable=True))
    op.create_table(
        "token_revocations",
        sa.Column("claim", sa.String(16), primary_key=True),
        sa.Column("value", sa.String(255), primary_key=True),
        sa.Column("issued_before", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_token_revocations_expires_at", "token_revocations", ["expires_at"])
    op.execute(
        "INSERT INTO token_revocations (claim, value, issued_before, expires_at) "
        f"SELECT 'jti', jti, {FOREVER}, expires_at FROM revoked_tokens"
    )
    op.drop_table("revoked_tokens")


def downgrade() -> None:
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.execute(
        "INSERT INTO revoked_tokens (jti, expires_at) "
        "SELECT value, expires_at FROM token_revocations WHERE claim = 'jti'"
    )
    op.drop_index("ix_token_revocations_expires_at", "token_revocations")
    op.drop_table("token_revocations")
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("session_id")
    with op.batch_alter_table("authorization_codes") as batch:
        batch.drop_column("session_id")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("disabled_at")
