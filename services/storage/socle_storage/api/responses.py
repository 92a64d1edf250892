"""Rows and domain results as the API answers them: one ``<resource>_out`` function each."""

from __future__ import annotations

from typing import Any

from socle.db import utcnow
from socle.problems import TYPE_BASE
from socle_storage.content import Link
from socle_storage.models import AccessRecord, Document, DocumentVersion, Grant
from socle_storage.schemas import AccessOut, DocumentOut, GrantOut, LinkOut, RulesOut, VersionOut
from socle_storage.tenant_rules import Rules
from socle_storage.uploads import Outcome, Uploaded


def document_out(doc: Document) -> DocumentOut:
    return DocumentOut.model_validate(doc)


def version_out(version: DocumentVersion) -> VersionOut:
    return VersionOut.model_validate(version)


def access_out(record: AccessRecord) -> AccessOut:
    return AccessOut.model_validate(record)


def link_out(link: Link) -> LinkOut:
    return LinkOut(url=link.url, expires_at=link.expires_at, version=link.version)


def grant_out(grant: Grant) -> GrantOut:
    now = utcnow()
    active = grant.revoked_at is None and (grant.expires_at is None or grant.expires_at > now)
    return GrantOut(
        id=grant.id,
        document_id=grant.document_id,
        grantee_type=grant.grantee_type,
        procedure=grant.procedure,
        created_at=grant.created_at,
        expires_at=grant.expires_at,
        revoked_at=grant.revoked_at,
        active=active,
    )


def rules_out(tenant: str, rules: Rules) -> RulesOut:
    return RulesOut(
        tenant=tenant,
        custom=rules.custom,
        max_size_bytes=rules.max_size_bytes,
        allowed_content_types=rules.allowed_content_types,
        default_retention_days=rules.default_retention_days,
        retention_days=rules.retention_days,
    )


def upload_out(outcome: Outcome, created: int, instance: str) -> tuple[int, dict[str, Any]]:
    """An upload's answer: the document (``created``: 201 or 200), or 422
    ``document-infected`` naming the quarantined document and version."""
    if isinstance(outcome, Uploaded):
        return created, document_out(outcome.document).model_dump(mode="json")
    return 422, {
        "type": TYPE_BASE + "document-infected",
        "title": "Document quarantined",
        "status": 422,
        "detail": "The virus scan found malware in the file; it was quarantined and will not "
        "be served.",
        "instance": instance,
        "document_id": outcome.document_id,
        "version": outcome.version,
    }
