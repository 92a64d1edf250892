"""Uploads streamed from the HTTP body to the store: multipart parsed incrementally, size and
SHA-256 computed on the way, type sniffed from the first bytes, scanned while stored.

Consistency with the store: a *pending* row is committed before the first byte is written
(under a key made of generated ids); the row becomes *active* only once the bytes are stored.
A failure removes the bytes and the pending row; what a crash leaves behind (pending rows and
their bytes) is removed by the reconciler. Pending rows are never visible through the API."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
import urllib3
from minio.error import MinioException, S3Error
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import ClientDisconnect

from socle.auth import Principal
from socle.db import utcnow
from socle.idempotency import idempotency_scope, run_idempotent
from socle.problems import TYPE_BASE, Conflict, DomainError
from socle_storage import events
from socle_storage.context import Storage
from socle_storage.documents import document_out, find_visible, new_id
from socle_storage.errors import (
    EmptyFile,
    FileTooLarge,
    InvalidUpload,
    NotAllowed,
    StoreUnavailable,
    TypeMismatch,
    TypeNotAllowed,
    UploadAborted,
)
from socle_storage.models import Document, DocumentVersion
from socle_storage.scanning import ScanSession, Verdict
from socle_storage.sniff import SNIFF_BYTES, clean_filename, resolve_type, sniff
from socle_storage.store import Pipe, UploadCancelled, object_key
from socle_storage.tenant_rules import Rules, load_rules

log = structlog.get_logger("socle_storage.uploads")

MAX_FIELDS = 10
MAX_FIELD_BYTES = 1024
KIND = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
PROCEDURE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
OWNER = re.compile(r"^[^\x00-\x1f\x7f]{1,255}$")
ESCAPED = re.compile(r"%([01][0-9A-F]|22|7F)")
STORE_ERRORS = (MinioException, urllib3.exceptions.HTTPError, OSError, RuntimeError)


@dataclass
class _Part:
    headers: dict[str, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    content_type: str = ""
    value: bytearray = field(default_factory=bytearray)


@dataclass
class Stored:
    """What streaming the file part produced."""

    document_id: str
    version_id: str
    number: int
    bucket: str
    key: str
    filename: str
    content_type: str
    size: int
    sha256: str
    verdict: Verdict


class _FileSink:
    """Receives the file part's bytes: sniffs, checks limits, hashes, stores and scans them."""

    def __init__(
        self,
        storage: Storage,
        principal: Principal,
        rules: Rules,
        part: _Part,
        existing: Document | None,
    ) -> None:
        self.storage = storage
        self.principal = principal
        self.rules = rules
        self.existing = existing
        self.filename = clean_filename(part.filename or "")
        self.declared = part.content_type
        self.head = bytearray()
        self.started = False
        self.size = 0
        self.sha = hashlib.sha256()
        self.content_type = ""
        self.pipe: Pipe | None = None
        self.writer: asyncio.Future[Any] | None = None
        self.scan: ScanSession | None = None
        self.pending: tuple[str, str, int, str, str] | None = None  # doc, version, n, bucket, key

    async def write(self, data: bytes) -> None:
        if self.size + len(data) > self.rules.max_size_bytes:
            raise FileTooLarge(
                f"The file is larger than this commune's limit of {self.rules.max_size_bytes} "
                "bytes; nothing was kept."
            )
        self.size += len(data)
        self.sha.update(data)
        if not self.started:
            self.head += data
            if len(self.head) < SNIFF_BYTES:
                return
            await self._start()
            return
        await self._forward(data)

    async def _forward(self, data: bytes) -> None:
        assert self.pipe is not None and self.writer is not None and self.scan is not None
        await self.scan.feed(data)
        try:
            await self.pipe.put(data, self.writer)
        except STORE_ERRORS as exc:
            raise StoreUnavailable() from exc  # logged once per outage (socle.outages)

    async def _start(self) -> None:
        head = bytes(self.head)
        sniffed = sniff(head[:SNIFF_BYTES])
        resolved = resolve_type(self.declared, sniffed)
        if resolved is None:
            raise TypeMismatch(
                f"The file was sent as {self.declared} but its bytes are {sniffed}; send the "
                "right file or declare its real type."
            )
        if resolved not in self.rules.allowed_content_types:
            raise TypeNotAllowed(
                f"This commune does not accept {resolved} documents; accepted: "
                f"{', '.join(self.rules.allowed_content_types)}."
            )
        self.content_type = resolved
        self.started = True
        self.scan = await self.storage.scanner.session()
        bucket = await self.storage.store.ensure_bucket(self.principal.tenant)
        self.pending = await _insert_pending(self.storage, self.principal, bucket, self.existing)
        _, _, _, _, key = self.pending
        self.pipe = Pipe(asyncio.get_running_loop())
        self.writer = self.storage.store.start_upload(bucket, key, resolved, self.pipe)
        self.head = bytearray()
        await self._forward(head)

    async def finish(self) -> Stored:
        if self.size == 0:
            raise EmptyFile("The file is empty; send a document with content.")
        if not self.started:
            await self._start()
        assert self.pipe is not None and self.writer is not None and self.scan is not None
        assert self.pending is not None
        try:
            await self.pipe.put(None, self.writer)
            await self.writer
        except STORE_ERRORS as exc:
            raise StoreUnavailable() from exc  # logged once per outage (socle.outages)
        verdict = await self.scan.verdict()
        doc_id, version_id, number, bucket, key = self.pending
        return Stored(
            doc_id,
            version_id,
            number,
            bucket,
            key,
            self.filename,
            self.content_type,
            self.size,
            self.sha.hexdigest(),
            verdict,
        )

    async def abort(self) -> None:
        """Undo what was written: abort the store write, remove bytes and pending rows."""
        if self.scan is not None:
            with contextlib.suppress(Exception):
                await self.scan.close()
        if self.pipe is not None and self.writer is not None:
            self.pipe.abort(UploadCancelled("upload refused"))
            with contextlib.suppress(Exception):
                await self.writer
        if self.pending is not None:
            await discard_pending(self.storage, *self.pending)

    async def close(self) -> None:
        if self.scan is not None:
            with contextlib.suppress(Exception):
                await self.scan.close()


async def _insert_pending(
    storage: Storage, principal: Principal, bucket: str, existing: Document | None
) -> tuple[str, str, int, str, str]:
    try:
        return await _insert_pending_rows(storage, principal, bucket, existing)
    except IntegrityError:
        raise Conflict(
            "Another version of this document is being uploaded; retry once it is done.",
            code="version-in-progress",
        ) from None


async def _insert_pending_rows(
    storage: Storage, principal: Principal, bucket: str, existing: Document | None
) -> tuple[str, str, int, str, str]:
    now = utcnow()
    version_id = new_id()
    async with storage.sessions() as session, session.begin():
        if existing is None:
            doc_id, number = new_id(), 1
            session.add(
                Document(
                    id=doc_id,
                    tenant=principal.tenant,
                    status="pending",
                    kind="",
                    filename="",
                    content_type="",
                    size=0,
                    sha256="",
                    version=0,
                    legal_hold=False,
                    uploaded_by=principal.subject,
                    created_at=now,
                    updated_at=now,
                )
            )
            await session.flush()
        else:
            doc_id = existing.id
            last = (
                await session.execute(
                    select(func.max(DocumentVersion.number)).where(
                        DocumentVersion.document_id == doc_id
                    )
                )
            ).scalar_one()
            number = int(last or 0) + 1
        key = object_key(principal.tenant, doc_id, version_id)
        session.add(
            DocumentVersion(
                id=version_id,
                document_id=doc_id,
                tenant=principal.tenant,
                number=number,
                status="pending",
                bucket=bucket,
                object_key=key,
                created_by=principal.subject,
                created_at=now,
            )
        )
    return doc_id, version_id, number, bucket, key


async def discard_pending(
    storage: Storage, doc_id: str, version_id: str, number: int, bucket: str, key: str
) -> bool:
    """Remove a pending version's bytes then its rows; False (rows kept for the reconciler)
    when the store cannot be reached."""
    try:
        await storage.store.remove(bucket, key)
    except (StoreUnavailable, S3Error) as exc:
        log.warning("pending_upload_kept_for_reconciler", reason=exc.__class__.__name__)
        return False
    async with storage.sessions() as session, session.begin():
        await session.execute(
            delete(DocumentVersion).where(
                DocumentVersion.id == version_id, DocumentVersion.status == "pending"
            )
        )
        await session.execute(
            delete(Document).where(Document.id == doc_id, Document.status == "pending")
        )
    return True


def _boundary(content_type: str | None) -> bytes:
    ctype, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise DomainError(
            "Send the document as multipart/form-data with a `file` part.",
            status=415,
            code="multipart-required",
            title="Unsupported media type",
        )
    return boundary


async def receive(
    storage: Storage,
    principal: Principal,
    content_type: str | None,
    body: AsyncIterator[bytes],
    existing: Document | None,
) -> tuple[Stored, dict[str, str], _FileSink]:
    """Parse the multipart body as it arrives, streaming the `file` part to the store."""
    boundary = _boundary(content_type)
    async with storage.sessions() as session, session.begin():
        rules = await load_rules(session, principal.tenant, storage.settings)

    queue: list[tuple[str, Any]] = []
    header_field = bytearray()
    header_value = bytearray()

    def on_part_begin() -> None:
        queue.append(("begin", None))

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        queue.append(("header", (bytes(header_field).lower(), bytes(header_value))))
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        queue.append(("headers_done", None))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        queue.append(("data", bytes(data[start:end])))

    def on_part_end() -> None:
        queue.append(("end", None))

    def on_end() -> None:
        queue.append(("finished", None))

    parser = MultipartParser(
        boundary,
        callbacks={
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_end": on_end,
        },
    )
    fields: dict[str, str] = {}
    part: _Part | None = None
    sink: _FileSink | None = None
    stored: Stored | None = None
    finished = False
    try:
        async for chunk in body:
            try:
                parser.write(chunk)
            except Exception as exc:
                raise InvalidUpload(
                    "The multipart body is malformed; let your HTTP client build it."
                ) from exc
            events_, queue[:] = list(queue), []
            for kind, value in events_:
                if kind == "begin":
                    part = _Part()
                elif kind == "header" and part is not None:
                    part.headers[value[0].decode("latin-1")] = value[1]
                elif kind == "headers_done" and part is not None:
                    _describe(part)
                    if part.name == "file":
                        if part.filename is None:
                            raise InvalidUpload("The `file` part needs a filename.")
                        if sink is not None:
                            raise InvalidUpload("Send one `file` part per request.")
                        sink = _FileSink(storage, principal, rules, part, existing)
                    elif len(fields) >= MAX_FIELDS:
                        raise InvalidUpload(f"At most {MAX_FIELDS} form fields are accepted.")
                elif kind == "data" and part is not None:
                    if part.name == "file" and sink is not None and stored is None:
                        await sink.write(value)
                    else:
                        part.value += value
                        if len(part.value) > MAX_FIELD_BYTES:
                            raise InvalidUpload(
                                f"The field {part.name!r} is longer than {MAX_FIELD_BYTES} bytes."
                            )
                elif kind == "end" and part is not None:
                    if part.name == "file" and sink is not None and stored is None:
                        stored = await sink.finish()
                    elif part.name != "file":
                        try:
                            fields[part.name] = part.value.decode("utf-8")
                        except UnicodeDecodeError:
                            raise InvalidUpload(
                                f"The field {part.name!r} is not UTF-8 text."
                            ) from None
                    part = None
                elif kind == "finished":
                    finished = True
        if not finished:
            raise InvalidUpload("The multipart body ended before its closing boundary.")
        if stored is None or sink is None:
            raise InvalidUpload("The request has no `file` part; attach the document as `file`.")
    except ClientDisconnect:
        # The client went away mid-upload: one line, the partial object removed, no trace.
        if sink is not None:
            await sink.abort()
        log.info("upload_aborted", received_bytes=sink.size if sink is not None else 0)
        raise UploadAborted() from None
    except BaseException:
        if sink is not None:
            await sink.abort()
        raise
    return stored, fields, sink


def _describe(part: _Part) -> None:
    disposition = part.headers.get("content-disposition", b"")
    kind, params = parse_options_header(disposition)
    if kind != b"form-data":
        raise InvalidUpload("Each part needs Content-Disposition: form-data.")
    part.name = params.get(b"name", b"").decode("utf-8", "replace")
    raw_filename = params.get(b"filename")
    part.filename = None
    if raw_filename is not None:
        # Clients escape line breaks, quotes (HTML standard) and other controls as %XX:
        # undo that so the checks see the name the user had.
        part.filename = ESCAPED.sub(
            lambda m: chr(int(m.group(1), 16)), raw_filename.decode("utf-8", "replace")
        )
    ctype, _ = parse_options_header(part.headers.get("content-type", b""))
    part.content_type = ctype.decode("latin-1").lower()


# --- use cases ---------------------------------------------------------------------------


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


def _problem(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail} | extra


async def _activate(
    session: AsyncSession, stored: Stored, doc: Document, principal: Principal
) -> DocumentVersion:
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


async def create_document(
    storage: Storage,
    principal: Principal,
    content_type: str | None,
    body: AsyncIterator[bytes],
    idempotency_key: str | None,
) -> tuple[int, dict[str, Any]]:
    stored, fields, sink = await receive(storage, principal, content_type, body, None)
    ran = False
    try:
        kind, owner, procedure = _check_fields(principal, fields)

        async def action(session: AsyncSession) -> tuple[int, Any]:
            nonlocal ran
            ran = True
            doc = await session.get(Document, stored.document_id)
            if doc is None:
                raise StoreUnavailable()
            rules = await load_rules(session, principal.tenant, storage.settings)
            await _activate(session, stored, doc, principal)
            now = utcnow()
            doc.kind, doc.owner, doc.procedure = kind, owner, procedure
            doc.filename, doc.content_type = stored.filename, stored.content_type
            doc.size, doc.sha256, doc.version = stored.size, stored.sha256, stored.number
            doc.created_at = doc.updated_at = now
            doc.retention_until = now + timedelta(days=rules.retention_for(kind))
            if stored.verdict.infected:
                doc.status = "quarantined"
                await events.quarantined(
                    session, doc, stored.number, stored.verdict.signature or ""
                )
                return 422, _infected(doc.id, stored.number)
            doc.status = "active"
            await session.flush()
            await events.uploaded(session, doc)
            log.info("document_uploaded", document_id=doc.id, size=doc.size, kind=kind)
            return 201, document_out(doc).model_dump(mode="json")

        fingerprint = {
            "kind": kind,
            "owner": owner,
            "procedure": procedure,
            "filename": stored.filename,
            "sha256": stored.sha256,
            "size": stored.size,
        }
        async with storage.sessions() as session:
            result = await run_idempotent(
                session,
                scope=idempotency_scope(principal, "storage", "documents"),
                key=idempotency_key,
                body=fingerprint,
                action=action,
            )
    except BaseException:
        await _discard_if_pending(storage, stored)
        raise
    finally:
        await sink.close()
    if not ran:  # replayed: the first upload's answer, these bytes are not needed
        await _discard_if_pending(storage, stored)
    return result


async def _discard_if_pending(storage: Storage, stored: Stored) -> None:
    async with storage.sessions() as session, session.begin():
        version = await session.get(DocumentVersion, stored.version_id)
        still_pending = version is not None and version.status == "pending"
    if still_pending:
        await discard_pending(
            storage,
            stored.document_id,
            stored.version_id,
            stored.number,
            stored.bucket,
            stored.key,
        )


def _infected(document_id: str, number: int) -> dict[str, Any]:
    return _problem(
        422,
        "document-infected",
        "Document quarantined",
        "The virus scan found malware in the file; it was quarantined and will not be served.",
        document_id=document_id,
        version=number,
    )


async def add_version(
    storage: Storage,
    principal: Principal,
    document_id: str,
    content_type: str | None,
    body: AsyncIterator[bytes],
) -> tuple[int, dict[str, Any]]:
    async with storage.sessions() as session, session.begin():
        doc = await find_visible(session, principal, document_id)
        if doc.status != "active":
            raise NotAllowed(f"Document {document_id} is {doc.status}; it takes no new version.")
    stored, fields, sink = await receive(storage, principal, content_type, body, doc)
    try:
        if fields:
            raise InvalidUpload("A new version takes only the `file` part.")
        async with storage.sessions() as session, session.begin():
            current = await find_visible(session, principal, document_id, for_update=True)
            if current.status != "active":
                raise NotAllowed(f"Document {document_id} was {current.status} meanwhile.")
            await _activate(session, stored, current, principal)
            if stored.verdict.infected:
                await events.quarantined(
                    session, current, stored.number, stored.verdict.signature or ""
                )
                return 422, _infected(current.id, stored.number)
            current.filename, current.content_type = stored.filename, stored.content_type
            current.size, current.sha256 = stored.size, stored.sha256
            current.version = stored.number
            current.updated_at = utcnow()
            await session.flush()
            await events.uploaded(session, current)
            return 200, document_out(current).model_dump(mode="json")
    except BaseException:
        await _discard_if_pending(storage, stored)
        raise
    finally:
        await sink.close()
