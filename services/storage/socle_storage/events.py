"""Events of the storage service (CloudEvents through the outbox); their payloads are the
models of ``socle.eventtypes.storage``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from socle.eventtypes.storage import (
    DocumentDeleted,
    DocumentEvent,
    DocumentPurged,
    DocumentQuarantined,
    DocumentShared,
    DocumentUploaded,
)
from socle.outbox import record_event
from socle_storage.models import Document, Grant


async def _record(session: AsyncSession, doc: Document, data: DocumentEvent) -> None:
    event = data.event(tenant=doc.tenant, subject=doc.id)
    await record_event(session, event, aggregate=f"document:{doc.id}")


def _base(doc: Document) -> dict[str, Any]:
    return {
        "document_id": doc.id,
        "kind": doc.kind,
        "owner": doc.owner,
        "procedure": doc.procedure,
    }


async def uploaded(session: AsyncSession, doc: Document) -> None:
    data = DocumentUploaded(
        **_base(doc),
        version=doc.version,
        content_type=doc.content_type,
        size=doc.size,
        sha256=doc.sha256,
        retention_until=doc.retention_until,
    )
    await _record(session, doc, data)


async def quarantined(session: AsyncSession, doc: Document, version: int, signature: str) -> None:
    await _record(
        session, doc, DocumentQuarantined(**_base(doc), version=version, signature=signature)
    )


async def shared(session: AsyncSession, doc: Document, grant: Grant) -> None:
    data = DocumentShared(
        **_base(doc),
        grant_id=grant.id,
        grantee_type=grant.grantee_type,
        grantee_procedure=grant.procedure,
        expires_at=grant.expires_at,
    )
    await _record(session, doc, data)


async def deleted(session: AsyncSession, doc: Document) -> None:
    await _record(session, doc, DocumentDeleted(**_base(doc), deleted_at=doc.deleted_at))


async def purged(session: AsyncSession, doc: Document, reason: str) -> None:
    await _record(session, doc, DocumentPurged(**_base(doc), reason=reason))
