"""Sharing a document: grants to a procedure or to the commune's agents, listed and
revoked."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from socle.auth import Principal
from socle.db import utcnow
from socle.problems import Unprocessable
from socle_storage import events
from socle_storage.access import may_share
from socle_storage.context import Storage
from socle_storage.documents import find_visible, new_id
from socle_storage.errors import DocumentDeleted, GrantNotFound, NotAllowed
from socle_storage.models import Grant
from socle_storage.schemas import GrantIn


async def share(
    session: AsyncSession, principal: Principal, document_id: str, body: GrantIn
) -> Grant:
    """Inside the caller's transaction (an idempotent POST)."""
    now = utcnow()
    if body.grantee_type == "procedure" and not body.procedure:
        raise Unprocessable(
            "A grant to a procedure names it: set `procedure`.", code="procedure-required"
        )
    if body.grantee_type == "agents" and body.procedure:
        raise Unprocessable(
            "A grant to the commune's agents names no procedure.", code="procedure-not-expected"
        )
    if body.expires_at is not None and body.expires_at <= now:
        raise Unprocessable("expires_at must be in the future.", code="grant-expired")
    doc = await find_visible(session, principal, document_id)
    if doc.status != "active":
        raise DocumentDeleted("Only active documents can be shared.")
    if not may_share(principal, doc):
        raise NotAllowed("Only the document's owner (or the commune's admins) may share it.")
    grant = Grant(
        id=new_id(),
        document_id=doc.id,
        tenant=doc.tenant,
        grantee_type=body.grantee_type,
        procedure=body.procedure,
        granted_by=principal.subject,
        created_at=now,
        expires_at=body.expires_at,
    )
    session.add(grant)
    await session.flush()
    await events.shared(session, doc, grant)
    return grant


async def list_grants(storage: Storage, principal: Principal, document_id: str) -> list[Grant]:
    async with storage.sessions() as session, session.begin():
        await find_visible(session, principal, document_id)
        rows = (
            await session.execute(
                select(Grant).where(Grant.document_id == document_id).order_by(Grant.created_at)
            )
        ).scalars()
        return list(rows)


async def revoke_grant(
    storage: Storage, principal: Principal, document_id: str, grant_id: str
) -> None:
    async with storage.sessions() as session, session.begin():
        doc = await find_visible(session, principal, document_id)
        if not may_share(principal, doc):
            raise NotAllowed("Only the document's owner (or the commune's admins) may revoke.")
        grant = (
            await session.execute(
                select(Grant).where(Grant.id == grant_id, Grant.document_id == doc.id)
            )
        ).scalar_one_or_none()
        if grant is None:
            raise GrantNotFound(f"Document {document_id} has no grant {grant_id}.")
        if grant.revoked_at is None:
            grant.revoked_at = utcnow()
