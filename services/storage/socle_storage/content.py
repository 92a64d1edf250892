"""Use cases on a document's content: its versions, downloads (with ranges and ETags),
presigned links, and the access log they write. Each owns one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from socle.auth import Principal
from socle.db import read_only, utcnow
from socle.pagination import decode_cursor, encode_cursor
from socle.problems import Unprocessable
from socle_storage.context import Storage
from socle_storage.documents import find_visible
from socle_storage.errors import (
    DocumentDeleted,
    DocumentQuarantined,
    RangeNotSatisfiable,
    VersionNotFound,
)
from socle_storage.models import AccessRecord, Document, DocumentVersion


async def list_versions(
    storage: Storage, principal: Principal, document_id: str
) -> list[DocumentVersion]:
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
        return list(rows)


@dataclass(frozen=True)
class Link:
    """A presigned download link of one version."""

    url: str
    expires_at: datetime
    version: int


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
    whole: bytes | None = None
    """The whole content when it came in the store's first read (``chunks`` is then None)."""
    redirect: str | None = None
    """A presigned link to the version on the store, to be followed instead (opt-in by
    ``download_redirect_min_bytes``; ``chunks`` is then None)."""


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
        await read_only(session)
        doc = await find_visible(session, principal, document_id)
        version = await _readable_version(session, doc, number)
    etag = etag_of(version)
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Download(version, etag, None, None)
    byte_range = parse_range(range_header, version.size)
    threshold = storage.settings.download_redirect_min_bytes
    if byte_range is None and threshold and version.size >= threshold:
        url = storage.store.presign(
            version.bucket, version.object_key, version.filename, version.content_type
        )
        async with storage.sessions() as session, session.begin():
            _record_access(session, principal, version, "content")
        return Download(version, etag, None, None, redirect=url)
    start = byte_range.start if byte_range else 0
    length = byte_range.length if byte_range else version.size
    chunks = storage.store.read(
        version.bucket, version.object_key, start, length, whole=byte_range is None
    )
    first = await anext(chunks)  # opens the object: a store fault answers 503 before 200
    async with storage.sessions() as session, session.begin():
        _record_access(session, principal, version, "content")
    if len(first) >= length:  # all of it: sent in one piece, nothing left to stream
        await chunks.aclose()
        return Download(version, etag, byte_range, None, first)

    async def stream() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    return Download(version, etag, byte_range, stream())


async def create_link(
    storage: Storage, principal: Principal, document_id: str, number: int | None
) -> Link:
    async with storage.sessions() as session, session.begin():
        doc = await find_visible(session, principal, document_id)
        version = await _readable_version(session, doc, number)
        url = storage.store.presign(
            version.bucket, version.object_key, version.filename, version.content_type
        )
        _record_access(session, principal, version, "link")
    return Link(
        url=url,
        expires_at=utcnow() + timedelta(seconds=storage.settings.presign_seconds),
        version=version.number,
    )


async def access_log(
    storage: Storage, principal: Principal, document_id: str, limit: int, cursor: str | None
) -> tuple[list[AccessRecord], str | None]:
    """A page of the document's access log, newest first, and the next page's cursor."""
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
    return rows, next_cursor
