"""Upload use cases: a new document, a new version. The bytes arrive through the ingest
pipeline (``ingest``) as a pending version; these use cases check the form, then activate the
version (or quarantine it when the scanner found malware) and record the event in one
transaction. They answer domain results; the API maps them to HTTP."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from socle.auth import Principal
from socle.db import utcnow
from socle_storage import events
from socle_storage.context import Storage
from socle_storage.documents import find_visible
from socle_storage.errors import InvalidUpload, NotAllowed, StoreUnavailable
from socle_storage.ingest import Received, Stored, receive
from socle_storage.models import Document, DocumentVersion

log = structlog.get_logger("socle_storage.uploads")

KIND = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
PROCEDURE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
OWNER = re.compile(r"^[^\x00-\x1f\x7f]{1,255}$")


@dataclass(frozen=True)
class Uploaded:
    """The version is stored, clean and current."""

    document: Document


@dataclass(frozen=True)
class Quarantined:
    """The scanner found malware: the version is kept in quarantine and never served."""

    document_id: str
    version: int


Outcome = Uploaded | Quarantined


@dataclass(frozen=True)
class NewDocument:
    """A new document's bytes, received and pending, with its checked form fields."""

    received: Received
    kind: str
    owner: str | None
    procedure: str | None

    @property
    def stored(self) -> Stored:
        return self.received.stored

    @property
    def fingerprint(self) -> dict[str, Any]:
        """What makes two uploads the same request (for ``Idempotency-Key``)."""
        return {
            "kind": self.kind,
            "owner": self.owner,
            "procedure": self.procedure,
            "filename": self.stored.filename,
            "sha256": self.stored.sha256,
            "size": self.stored.size,
        }


def _check_fields(
    principal: Principal, fields: dict[str, str]
) -> tuple[str, str | None, str | None]:
    unknown = set(fields) - {"kind", "owner", "procedure"}
    if unknown:
        raise InvalidUpload(f"Unknown form fields: {', '.join(sorted(unknown))}.")
    kind = fields.get("kind", "").strip()
    if not KIND.match(kind):
        raise InvalidUpload(
            "The field `kind` is required: lower-case letters, digits, '-', '_' or '.', "
            "e.g. building-plan."
        )
    owner = fields.get("owner", "").strip() or None
    if owner is not None and not OWNER.match(owner):
        raise InvalidUpload("The field `owner` must be the owner's subject id.")
    if principal.owner is not None:
        if owner not in (None, principal.owner):
            raise NotAllowed("A person uploads documents for themselves only; omit `owner`.")
        owner = principal.owner
    procedure = fields.get("procedure", "").strip() or None
    if procedure is not None and not PROCEDURE.match(procedure):
        raise InvalidUpload("The field `procedure` must be a procedure id (letters, digits, -_.:).")
    return kind, owner, procedure


async def _activate(session: AsyncSession, stored: Stored) -> DocumentVersion:
    version = await session.get(DocumentVersion, stored.version_id)
    if version is None or version.status != "pending":
        raise StoreUnavailable()  # removed by the reconciler meanwhile: retry
    version.filename = stored.filename
    version.content_type = stored.content_type
    version.size = stored.size
    version.sha256 = stored.sha256
    version.scan_result = stored.verdict.signature if stored.verdict.infected else "clean"
    version.status = "quarantined" if stored.verdict.infected else "active"
    return version


@contextlib.asynccontextmanager
async def receive_document(
    storage: Storage, principal: Principal, content_type: str | None, body: AsyncIterator[bytes]
) -> AsyncIterator[NewDocument]:
    """Receive a new document's multipart body (pending until :func:`create_document` runs
    inside the block; removed on leaving when it did not, e.g. on an idempotent replay)."""
    async with receive(storage, principal, content_type, body, None) as received:
        kind, owner, procedure = _check_fields(principal, received.fields)
        yield NewDocument(received, kind, owner, procedure)


async def create_document(
    session: AsyncSession, storage: Storage, principal: Principal, upload: NewDocument
) -> Outcome:
    """Activate a received document; inside the caller's (idempotency) transaction."""
    stored = upload.stored
    doc = await session.get(Document, stored.document_id)
    if doc is None:
        raise StoreUnavailable()
    rules = upload.received.rules  # read when the upload began
    await _activate(session, stored)
    upload.received.settle_on_commit(session)
    now = utcnow()
    doc.kind, doc.owner, doc.procedure = upload.kind, upload.owner, upload.procedure
    doc.filename, doc.content_type = stored.filename, stored.content_type
    doc.size, doc.sha256, doc.version = stored.size, stored.sha256, stored.number
    doc.created_at = doc.updated_at = now
    doc.retention_until = now + timedelta(days=rules.retention_for(upload.kind))
    if stored.verdict.infected:
        doc.status = "quarantined"
        await events.quarantined(session, doc, stored.number, stored.verdict.signature or "")
        return Quarantined(doc.id, stored.number)
    doc.status = "active"
    await session.flush()
    await events.uploaded(session, doc)
    log.info("document_uploaded", document_id=doc.id, size=doc.size, kind=upload.kind)
    return Uploaded(doc)


async def add_version(
    storage: Storage,
    principal: Principal,
    document_id: str,
    content_type: str | None,
    body: AsyncIterator[bytes],
) -> Outcome:
    """A new version of an active document (its own transaction once the bytes are in)."""
    async with storage.sessions() as session, session.begin():
        doc = await find_visible(session, principal, document_id)
        if doc.status != "active":
            raise NotAllowed(f"Document {document_id} is {doc.status}; it takes no new version.")
    async with receive(storage, principal, content_type, body, doc) as received:
        return await _activate_version(storage, principal, document_id, received)


async def _activate_version(
    storage: Storage, principal: Principal, document_id: str, received: Received
) -> Outcome:
    if received.fields:
        raise InvalidUpload("A new version takes only the `file` part.")
    stored = received.stored
    async with storage.sessions() as session, session.begin():
        current = await find_visible(session, principal, document_id, for_update=True)
        if current.status != "active":
            raise NotAllowed(f"Document {document_id} was {current.status} meanwhile.")
        await _activate(session, stored)
        received.settle_on_commit(session)
        if stored.verdict.infected:
            await events.quarantined(
                session, current, stored.number, stored.verdict.signature or ""
            )
            return Quarantined(current.id, stored.number)
        current.filename, current.content_type = stored.filename, stored.content_type
        current.size, current.sha256 = stored.size, stored.sha256
        current.version = stored.number
        current.updated_at = utcnow()
        await session.flush()
        await events.uploaded(session, current)
        return Uploaded(current)
