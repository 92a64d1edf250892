"""Use cases on the document itself: read, list, delete, legal hold, and removing its rows.
Each owns one transaction."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from socle import clock
from socle.auth import Principal
from socle.db import for_update as lock_rows
from socle.db import utcnow
from socle.pagination import decode_position, encode_position
from socle_storage import events
from socle_storage.access import active_grant, acts_for_tenant, visible
from socle_storage.context import Storage
from socle_storage.errors import DocumentNotFound, LegalHold, NotAllowed
from socle_storage.models import Document, DocumentVersion, Grant


def new_id() -> str:
    return uuid.uuid4().hex


# --- reading ----------------------------------------------------------------------------


async def find_visible(
    session: AsyncSession, principal: Principal, document_id: str, *, for_update: bool = False
) -> Document:
    query = select(Document).where(
        Document.id == document_id,
        Document.status.in_(("active", "quarantined", "deleted")),
        visible(principal, clock.now()),
    )
    if for_update:
        query = lock_rows(query, of=Document)
    doc = (await session.execute(query)).scalar_one_or_none()
    if doc is None:
        raise DocumentNotFound(document_id)
    if doc.status == "deleted" and not acts_for_tenant(principal):
        raise DocumentNotFound(document_id)
    return doc


async def get_document(storage: Storage, principal: Principal, document_id: str) -> Document:
    async with storage.sessions() as session, session.begin():
        return await find_visible(session, principal, document_id)


async def list_documents(
    storage: Storage,
    principal: Principal,
    *,
    owner: str | None,
    procedure: str | None,
    kind: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Document], str | None]:
    """A page of the documents the caller sees, newest first, and the next page's cursor."""
    now = clock.now()
    query = select(Document).where(
        visible(principal, now), Document.status.in_(("active", "quarantined"))
    )
    if owner is not None:
        query = query.where(Document.owner == owner)
    if kind is not None:
        query = query.where(Document.kind == kind)
    if procedure is not None:
        query = query.where(
            or_(Document.procedure == procedure, active_grant(now, procedure=procedure))
        )
    if cursor:
        at, last_id = decode_position(cursor)
        query = query.where(
            or_(Document.created_at < at, and_(Document.created_at == at, Document.id < last_id))
        )
    query = query.order_by(Document.created_at.desc(), Document.id.desc()).limit(limit + 1)
    async with storage.sessions() as session, session.begin():
        rows = list((await session.execute(query)).scalars())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_position(rows[-1].created_at, rows[-1].id)
    return rows, next_cursor


# --- changes ----------------------------------------------------------------------------


async def delete_document(storage: Storage, principal: Principal, document_id: str) -> None:
    async with storage.sessions() as session, session.begin():
        doc = await find_visible(session, principal, document_id, for_update=True)
        if doc.status == "deleted":
            return
        if doc.legal_hold:
            raise LegalHold(
                "The document is under legal hold and cannot be deleted until the hold is lifted."
            )
        now = utcnow()
        doc.status = "deleted"
        doc.deleted_at = now
        doc.updated_at = now
        await events.deleted(session, doc)


async def set_legal_hold(
    storage: Storage, principal: Principal, document_id: str, hold: bool, reason: str | None
) -> Document:
    if principal.owner is not None:
        raise NotAllowed("Only the commune (agents, admins, services) may set a legal hold.")
    async with storage.sessions() as session, session.begin():
        doc = await find_visible(session, principal, document_id, for_update=True)
        doc.legal_hold = hold
        doc.legal_hold_reason = reason if hold else None
        doc.updated_at = utcnow()
        await session.flush()
        return doc


async def remove_document_rows(session: AsyncSession, document_id: str) -> None:
    await session.execute(delete(Grant).where(Grant.document_id == document_id))
    await session.execute(delete(DocumentVersion).where(DocumentVersion.document_id == document_id))
    await session.execute(delete(Document).where(Document.id == document_id))
