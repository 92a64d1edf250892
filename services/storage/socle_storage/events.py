"""Events of the storage service (CloudEvents through the outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from socle.events import CloudEvent
from socle.outbox import record_event
from socle_storage.models import Document, Grant

SERVICE = "storage"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def _record(session: AsyncSession, doc: Document, type_: str, data: dict[str, Any]) -> None:
    event = CloudEvent.new(
        service=SERVICE, type=type_, tenant=doc.tenant, subject=doc.id, data=data
    )
    await record_event(session, event, aggregate=f"document:{doc.id}")


def _base(doc: Document) -> dict[str, Any]:
    return {
        "document_id": doc.id,
        "kind": doc.kind,
        "owner": doc.owner,
        "procedure": doc.procedure,
    }


async def uploaded(session: AsyncSession, doc: Document) -> None:
    await _record(
        session,
        doc,
        "document.uploaded",
        _base(doc)
        | {
            "version": doc.version,
            "content_type": doc.content_type,
            "size": doc.size,
            "sha256": doc.sha256,
            "retention_until": _iso(doc.retention_until),
        },
    )


async def quarantined(session: AsyncSession, doc: Document, version: int, signature: str) -> None:
    await _record(
        session,
        doc,
        "document.quarantined",
        _base(doc) | {"version": version, "signature": signature},
    )


async def shared(session: AsyncSession, doc: Document, grant: Grant) -> None:
    await _record(
        session,
        doc,
        "document.shared",
        _base(doc)
        | {
            "grant_id": grant.id,
            "grantee_type": grant.grantee_type,
            "grantee_procedure": grant.procedure,
            "expires_at": _iso(grant.expires_at),
        },
    )


async def deleted(session: AsyncSession, doc: Document) -> None:
    await _record(
        session, doc, "document.deleted", _base(doc) | {"deleted_at": _iso(doc.deleted_at)}
    )


async def purged(session: AsyncSession, doc: Document, reason: str) -> None:
    await _record(session, doc, "document.purged", _base(doc) | {"reason": reason})
