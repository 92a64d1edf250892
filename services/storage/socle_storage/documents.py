"""Use cases on stored documents: read, list, download, link, version list, delete, legal
hold, sharing, access log, tenant rules. Each owns one transaction."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from socle.auth import Principal
from socle.db import utcnow
from socle.pagination import decode_cursor, decode_position, encode_cursor, encode_position
from socle.problems import Unprocessable
from socle_storage import events
from socle_storage.access import active_grant, acts_for_tenant, may_share, visible
from socle_storage.context import Storage
from socle_storage.errors import (
    DocumentDeleted,
    DocumentNotFound,
    DocumentQuarantined,
    GrantNotFound,
    LegalHold,
    NotAllowed,
    RangeNotSatisfiable,
    VersionNotFound,
)
from socle_storage.models import AccessRecord, Document, DocumentVersion, Grant, TenantRules
from socle_storage.schemas import (
    MEDIA_TYPE,
    AccessOut,
    AccessPage,
    DocumentOut,
    DocumentPage,
    GrantIn,
    GrantOut,
    LinkOut,
    RulesIn,
    RulesOut,
    VersionOut,
)
from socle_storage.settings import StorageSettings


def new_id() -> str:
    return uuid.uuid4().hex


# --- rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    max_size_bytes: int
    allowed_content_types: list[str]
    default_retention_days: int
    retention_days: dict[str, int]
    custom: bool

    def retention_for(self, kind: str) -> int:
        return int(self.retention_days.get(kind, self.default_retention_days))


async def load_rules(session: AsyncSession, tenant: str, settings: StorageSettings) -> Rules:
    row = await session.get(TenantRules, tenant)
    if row is None:
        return Rules(
            max_size_bytes=settings.default_max_size_bytes,
            allowed_content_types=settings.allowed_types,
            default_retention_days=settings.default_retention_days,
            retention_days={},
            custom=False,
        )
    return Rules(
        max_size_bytes=row.max_size_bytes,
        # rows written before types were checked may hold a malformed one: never matches
        allowed_content_types=[
            t for t in row.allowed_content_types if isinstance(t, str) and MEDIA_TYPE.match(t)
        ],
        default_retention_days=row.default_retention_days,
        retention_days={str(k): int(v) for k, v in row.retention_days.items()},
        custom=True,
    )


def _rules_out(tenant: str, rules: Rules) -> RulesOut:
    return RulesOut(
        tenant=tenant,
        custom=rules.custom,
        max_size_bytes=rules.max_size_bytes,
        allowed_content_types=rules.allowed_content_types,
        default_retention_days=rules.default_retention_days,
        retention_days=rules.retention_days,
    )


async def get_rules(storage: Storage, principal: Principal) -> RulesOut:
    async with storage.sessions() as session, session.begin():
        return _rules_out(
            principal.tenant, await load_rules(session, principal.tenant, storage.settings)
        )


_KIND = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


async def set_rules(storage: Storage, principal: Principal, body: RulesIn) -> RulesOut:
    if not acts_for_tenant(principal):
        raise NotAllowed("Only the commune's admins or its services may change the rules.")
    bad = [k for k, v in body.retention_days.items() if not _KIND.match(k) or v < 0]
    if bad:
        raise Unprocessable(
            f"retention_days has invalid kinds or negative days: {', '.join(bad)}.",
            code="invalid-rules",
        )
    types = sorted(set(body.allowed_content_types))  # validated and normalised by RulesIn
    async with storage.sessions() as session, session.begin():
        row = await session.get(TenantRules, principal.tenant)
        if row is None:
            row = TenantRules(tenant=principal.tenant)
            session.add(row)
        row.max_size_bytes = body.max_size_bytes
        row.allowed_content_types = types
        row.default_retention_days = body.default_retention_days
        row.retention_days = dict(body.retention_days)
        row.updated_at = utcnow()
        await session.flush()
        return _rules_out(
            principal.tenant, await load_rules(session, principal.tenant, storage.settings)
        )


# --- reading ----------------------------------------------------------------------------


async def find_visible(
    session: AsyncSession, principal: Principal, document_id: str, *, for_update: bool = False
) -> Document:
    query = select(Document).where(
        Document.id == document_id,
        Document.status.in_(("active", "quarantined", "deleted")),
        visible(principal, utcnow()),
    )
    if for_update and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Document)
    doc = (await session.execute(query)).scalar_one_or_none()
    if doc is None:
        raise DocumentNotFound(document_id)
    if doc.status == "deleted" and not acts_for_tenant(principal):
        raise DocumentNotFound(document_id)
    return doc


def document_out(doc: Document) -> DocumentOut:
    return DocumentOut.model_validate(doc)


async def get_document(storage: Storage, principal: Principal, document_id: str) -> DocumentOut:
    async with storage.sessions() as session, session.begin():
        return document_out(await find_visible(session, principal, document_id))


async def list_documents(
    storage: Storage,
    principal: Principal,
    *,
    owner: str | None,
    procedure: str | None,
    kind: str | None,
    limit: int,
    cursor: str | None,
) -> DocumentPage:
    now = utcnow()
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
    return DocumentPage(items=[document_out(d) for d in rows], next_cursor=next_cursor)


async def list_versions(
    storage: Storage, principal: Principal, document_id: str
) -> list[VersionOut]:
    async with storage.sessions() as session, session.begin():
        await find_visible(session, principal, document_id)
        rows = (
            await session.execute(
                select(DocumentVersion)
                .where(
                    DocumentVersion.document_id == document_id,
                    DocumentVersion.status.in_(("active", "quarantined")),
                )
                .order_by(DocumentVersion.number)
            )
        ).scalars()
        return [VersionOut.model_validate(v) for v in rows]


# --- content ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """One ``bytes=`` range (RFC 9110); None to send the whole content."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None  # other units and multiple ranges: the whole content
    first, dash, last = spec.strip().partition("-")
    try:
        if not dash:
            return None
        if first == "":
            suffix = int(last)
            if suffix <= 0:
                raise ValueError
            start, end = max(size - suffix, 0), size - 1
        else:
            start = int(first)
            end = int(last) if last else max(size - 1, start)
            if start < 0 or end < start:
                return None
    except ValueError:
        return None
    end = min(end, size - 1)
    if start >= size:
        raise RangeNotSatisfiable(
            f"The range starts at byte {start} but the content has {size} bytes.",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return ByteRange(start, end)


@dataclass
class Download:
    version: DocumentVersion
    etag: str
    range: ByteRange | None
    chunks: AsyncIterator[bytes] | None  # None: not modified


def etag_of(version: DocumentVersion) -> str:
    return f'"{version.sha256}"'


async def _readable_version(
    session: AsyncSession, doc: Document, number: int | None
) -> DocumentVersion:
    if doc.status == "quarantined":
        raise DocumentQuarantined(
            "The document was quarantined by the virus scan; its content is not served."
        )
    if doc.status == "deleted":
        raise DocumentDeleted("The document was deleted; its content is no longer served.")
    wanted = number if number is not None else doc.version
    version = (
        await session.execute(
            select(DocumentVersion).where(
                DocumentVersion.document_id == doc.id, DocumentVersion.number == wanted
            )
        )
    ).scalar_one_or_none()
    if version is None or version.status == "pending":
        raise VersionNotFound(f"Document {doc.id} has no version {wanted}.")
    if version.status == "quarantined":
        raise DocumentQuarantined(
            f"Version {wanted} was quarantined by the virus scan; its content is not served."
        )
    return version


def _record_access(
    session: AsyncSession, principal: Principal, version: DocumentVersion, action: str
) -> None:
    session.add(
        AccessRecord(
            tenant=principal.tenant,
            document_id=version.document_id,
            version=version.number,
            action=action,
            subject=principal.subject,
            client_id=principal.client_id,
            roles=sorted(principal.roles),
            at=utcnow(),
        )
    )


async def download(
    storage: Storage,
    principal: Principal,
    document_id: str,
    *,
    number: int | None,
    range_header: str | None,
    if_none_match: str | None,
) -> Download:
    async with storage.sessions() as session, session.begin():
        doc = await find_visible(session, principal, document_id)
        version = await _readable_version(session, doc, number)
    etag = etag_of(version)
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Download(version, etag, None, None)
    byte_range = parse_range(range_header, version.size)
    start = byte_range.start if byte_range else 0
    length = byte_range.length if byte_range else version.size
    chunks = storage.store.read(version.bucket, version.object_key, start, length)
    first = await anext(chunks)  # opens the object: a store fault answers 503 before 200
    async with storage.sessions() as session, session.begin():
        _record_access(session, principal, version, "content")

    async def stream() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    return Download(version, etag, byte_range, stream())


async def create_link(
    storage: Storage, principal: Principal, document_id: str, number: int | None
) -> LinkOut:
    async with storage.sessions() as session, session.begin():
        doc = await find_visible(session, principal, document_id)
        version = await _readable_version(session, doc, number)
        url = storage.store.presign(
            version.bucket, version.object_key, version.filename, version.content_type
        )
        _record_access(session, principal, version, "link")
    return LinkOut(
        url=url,
        expires_at=utcnow() + timedelta(seconds=storage.settings.presign_seconds),
        version=version.number,
    )


async def access_log(
    storage: Storage, principal: Principal, document_id: str, limit: int, cursor: str | None
) -> AccessPage:
    async with storage.sessions() as session, session.begin():
        await find_visible(session, principal, document_id)
        query = select(AccessRecord).where(
            AccessRecord.tenant == principal.tenant, AccessRecord.document_id == document_id
        )
        if cursor:
            (last,) = decode_cursor(cursor, 1)
            if not (last.isascii() and last.isdigit() and len(last) <= 18):
                raise Unprocessable("The cursor is not one this API gave.", code="invalid-cursor")
            query = query.where(AccessRecord.id < int(last))
        rows = list(
            (
                await session.execute(query.order_by(AccessRecord.id.desc()).limit(limit + 1))
            ).scalars()
        )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(str(rows[-1].id))
    return AccessPage(items=[AccessOut.model_validate(r) for r in rows], next_cursor=next_cursor)


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
) -> DocumentOut:
    if principal.owner is not None:
        raise NotAllowed("Only the commune (agents, admins, services) may set a legal hold.")
    async with storage.sessions() as session, session.begin():
        doc = await find_visible(session, principal, document_id, for_update=True)
        doc.legal_hold = hold
        doc.legal_hold_reason = reason if hold else None
        doc.updated_at = utcnow()
        await session.flush()
        return document_out(doc)


def grant_out(grant: Grant, now: datetime) -> GrantOut:
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


async def share(
    session: AsyncSession, principal: Principal, document_id: str, body: GrantIn
) -> tuple[int, Any]:
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
    return 201, grant_out(grant, now).model_dump(mode="json")


async def list_grants(storage: Storage, principal: Principal, document_id: str) -> list[GrantOut]:
    now = utcnow()
    async with storage.sessions() as session, session.begin():
        await find_visible(session, principal, document_id)
        rows = (
            await session.execute(
                select(Grant).where(Grant.document_id == document_id).order_by(Grant.created_at)
            )
        ).scalars()
        return [grant_out(g, now) for g in rows]


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


async def remove_document_rows(session: AsyncSession, document_id: str) -> None:
    await session.execute(delete(Grant).where(Grant.document_id == document_id))
    await session.execute(delete(DocumentVersion).where(DocumentVersion.document_id == document_id))
    await session.execute(delete(Document).where(Document.id == document_id))
