"""Erasure of a person's documents (``user.deleted``).

A document the person owns is deleted at once (its bytes leave the store at the purge that
follows), except one under legal hold, or one of a kind the commune declared a retention
for (its rules' ``retention_days``) whose retention has not ended: those are marked
(``erasure_requested_at``) and the purge removes them when the hold is lifted and the
retention has ended. The person's reads in the access log are kept as an audit trail, with
the reader replaced by a pseudonym."""

from __future__ import annotations

import contextlib
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from socle.bus import ConsumerSpec
from socle.db import utcnow
from socle.legal_hold import kept_under_hold
from socle.privacy import (
    ErasureOutcome,
    ErasureRequest,
    ExportRequest,
    Kept,
    PersonData,
    as_json,
    erasure_consumer,
    new_pseudonym,
)
from socle.privacy import (
    export_consumer as shared_export_consumer,
)
from socle_storage import events
from socle_storage.context import Storage
from socle_storage.exports import write_part
from socle_storage.models import AccessRecord, Document
from socle_storage.purge import purge_once
from socle_storage.tenant_rules import load_rules

SERVICE = "storage"


async def erase_person(
    storage: Storage, session: AsyncSession, request: ErasureRequest
) -> ErasureOutcome:
    now = utcnow()
    rules = await load_rules(session, request.tenant, storage.settings)
    docs = (
        await session.execute(
            select(Document)
            .where(Document.tenant == request.tenant, Document.owner == request.user_id)
            .with_for_update()
        )
    ).scalars()
    deleted = held = retained = 0
    retained_until: datetime | None = None
    for doc in docs:
        doc.erasure_requested_at = now
        doc.updated_at = now
        if doc.legal_hold:
            held += 1
            continue
        if (
            doc.kind in rules.retention_days
            and doc.retention_until is not None
            and doc.retention_until > now
        ):
            retained += 1
            retained_until = max(retained_until or doc.retention_until, doc.retention_until)
            continue
        deleted += 1
        doc.retention_until = now  # nothing keeps it: the next purge removes it
        if doc.status != "deleted":
            doc.status = "deleted"
            doc.deleted_at = now
            await events.deleted(session, doc)
    reads = await session.execute(
        update(AccessRecord)
        .where(AccessRecord.tenant == request.tenant, AccessRecord.subject == request.user_id)
        .values(subject=new_pseudonym())
    )
    kept = kept_under_hold(
        "documents",
        held,
        "Under legal hold; erased once the hold is lifted and any retention has ended.",
    )
    if retained:
        kept.append(
            Kept(
                category="documents",
                count=retained,
                reason="retention",
                until=retained_until,
                detail="Of a kind the commune keeps for a retention period; erased when it ends.",
            )
        )
    read_count = int(reads.rowcount)  # type: ignore[attr-defined]
    if read_count:
        kept.append(
            Kept(
                category="access_log",
                count=read_count,
                reason="audit",
                detail="Who read which document and when; the reader is pseudonymised.",
            )
        )
    return ErasureOutcome(
        erasure_id=request.erasure_id,
        service=SERVICE,
        erased={"documents": deleted},
        pseudonymised={"access_log": read_count},
        kept=kept,
    )


def consumer(storage: Storage) -> ConsumerSpec:
    """``user.deleted`` erases the person's documents; the purge then removes their bytes."""

    async def erase(session: AsyncSession, request: ErasureRequest) -> ErasureOutcome:
        return await erase_person(storage, session, request)

    async def purge_now() -> None:
        # The erasure is recorded; a store outage only delays the bytes to the next purge.
        with contextlib.suppress(Exception):
            await purge_once(storage)

    return erasure_consumer(SERVICE, storage.sessions, erase, after=purge_now)


READ_FIELDS = ("document_id", "version", "action", "at")
DOCUMENT_FIELDS = (
    "id",
    "status",
    "kind",
    "procedure",
    "filename",
    "content_type",
    "size",
    "sha256",
    "version",
    "legal_hold",
    "created_at",
    "updated_at",
    "retention_until",
    "deleted_at",
)


async def export_person(session: AsyncSession, request: ExportRequest) -> PersonData:
    """The person's documents (their description; the files are in the store under the
    ids listed) and their own reads in the access log."""
    docs = (
        await session.execute(
            select(Document)
            .where(Document.tenant == request.tenant, Document.owner == request.user_id)
            .order_by(Document.created_at)
        )
    ).scalars()
    reads = (
        await session.execute(
            select(AccessRecord).where(
                AccessRecord.tenant == request.tenant, AccessRecord.subject == request.user_id
            )
        )
    ).scalars()
    return {
        "documents": [as_json(d, DOCUMENT_FIELDS) for d in docs],
        "access_log": [as_json(r, READ_FIELDS) for r in reads],
    }


def export_consumer(storage: Storage) -> ConsumerSpec:
    """``person.export.requested``: storage writes its part straight to its own store."""

    async def collect(session: AsyncSession, request: ExportRequest) -> PersonData:
        return await export_person(session, request)

    async def store(request: ExportRequest, service: str, body: bytes) -> str:
        return await write_part(storage, request.tenant, request.export_id, service, body)

    return shared_export_consumer(SERVICE, storage.sessions, collect, store)
