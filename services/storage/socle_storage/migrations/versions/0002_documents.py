"""Documents, their versions, sharing grants, the access log and tenant rules.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from socle.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("procedure", sa.String(128), nullable=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("legal_hold", sa.Boolean, nullable=False),
        sa.Column("legal_hold_reason", sa.String(500), nullable=True),
        sa.Column("uploaded_by", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("retention_until", UTCDateTime, nullable=True),
        sa.Column("deleted_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_documents_tenant", "documents", ["tenant"])
    op.create_index("ix_documents_tenant_created", "documents", ["tenant", "created_at", "id"])
    op.create_table(
        "document_versions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "document_id",
            sa.String(32),
            sa.ForeignKey(
                "documents.id",
                ondelete="CASCADE",
                name="fk_document_versions_document_id_documents",
            ),
            nullable=False,
        ),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("bucket", sa.String(63), nullable=False),
        sa.Column("object_key", sa.String(255), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("scan_result", sa.String(255), nullable=True),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("document_id", "number", name="uq_document_versions_number"),
    )
    op.create_index(
        "ix_document_versions_document_id", "document_versions", ["document_id"]
    )
    op.create_table(
        "grants",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "document_id",
            sa.String(32),
            sa.ForeignKey(
                "documents.id", ondelete="CASCADE", name="fk_grants_document_id_documents"
            ),
            nullable=False,
        ),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("grantee_type", sa.String(16), nullable=False),
        sa.Column("procedure", sa.String(128), nullable=True),
        sa.Column("granted_by", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=True),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_grants_document_id", "grants", ["document_id"])
    op.create_index("ix_grants_procedure", "grants", ["procedure"])
    op.create_table(
        "access_log",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("document_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_access_log_document_id", "access_log", ["document_id"])
    op.create_table(
        "tenant_rules",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("max_size_bytes", sa.BigInteger, nullable=False),
        sa.Column("allowed_content_types", sa.JSON, nullable=False),
        sa.Column("default_retention_days", sa.Integer, nullable=False),
        sa.Column("retention_days", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tenant_rules")
    op.drop_table("access_log")
    op.drop_table("grants")
    op.drop_table("document_versions")
    op.drop_table("documents")
