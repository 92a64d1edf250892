"""The ingest pipeline: a file part streamed from the HTTP body to the store, its size and
SHA-256 computed on the way, its type sniffed from the first bytes, scanned while stored.

Consistency with the store: a *pending* row is committed before the first byte is written
(under a key made of generated ids); the row becomes *active* only once the bytes are stored
(by the use case, see ``uploads``). A failure removes the bytes and the pending row; what a
crash leaves behind (pending rows and their bytes) is removed by the reconciler. Pending rows
are never visible through the API."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog
import urllib3
from minio.error import MinioException, S3Error
from sqlalchemy import delete, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect

from socle.auth import Principal
from socle.db import utcnow
from socle_storage.context import Storage
from socle_storage.documents import new_id
from socle_storage.errors import (
    EmptyFile,
    FileTooLarge,
    StoreUnavailable,
    TypeMismatch,
    TypeNotAllowed,
    UploadAborted,
    VersionInProgress,
)
from socle_storage.models import Document, DocumentVersion
from socle_storage.multipart import FilePart, read_form
from socle_storage.scanning import ScanSession, Verdict
from socle_storage.sniff import SNIFF_BYTES, clean_filename, resolve_type, sniff
from socle_storage.store import PartWriter, object_key
from socle_storage.tenant_rules import Rules, load_rules

log = structlog.get_logger("socle_storage.uploads")

STORE_ERRORS = (MinioException, urllib3.exceptions.HTTPError, OSError, RuntimeError)


@dataclass(frozen=True)
class Pending:
    """A version whose rows are committed as *pending* and whose bytes go to ``key``."""

    document_id: str
    version_id: str
    number: int
    bucket: str
    key: str


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


@dataclass
class Received:
    """An upload read to its end: the stored (still pending) file and the form's fields."""

    stored: Stored
    fields: dict[str, str]
    rules: Rules
    """The tenant's rules the upload was checked against."""
    settled: bool = False
    """Set once a transaction activating (or quarantining) the version committed: nothing
    is left pending, so there is nothing to check or remove on leaving."""

    def settle_on_commit(self, session: AsyncSession) -> None:
        """Mark the upload settled when ``session``'s transaction commits (not before)."""

        def settled(_session: Session) -> None:
            self.settled = True

        event.listen(session.sync_session, "after_commit", settled, once=True)


class _FileSink:
    """Receives the file part's bytes: sniffs, checks limits, hashes, stores and scans them."""

    def __init__(
        self,
        storage: Storage,
        principal: Principal,
        rules: Rules,
        part: FilePart,
        existing: Document | None,
    ) -> None:
        self.storage = storage
        self.principal = principal
        self.rules = rules
        self.existing = existing
        self.filename = clean_filename(part.filename)
        self.declared = part.content_type
        self.head = bytearray()
        self.started = False
        self.size = 0
        self.sha = hashlib.sha256()
        self.content_type = ""
        self.bucket = ""
        self.batch: list[bytes] = []
        """What arrived since the last part was sent."""
        self.batched = 0
        self.writer: PartWriter | None = None
        """The multipart upload, begun once more than a part has arrived (a file of one part
        at most is stored in one call at the end)."""
        self.scan: ScanSession | None = None
        self.pending: Pending | None = None
        self.stored: Stored | None = None

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
        assert self.scan is not None and self.pending is not None
        await self.scan.feed(data)
        self.batch.append(data)
        self.batched += len(data)
        part_size = self.storage.settings.s3_part_size_bytes
        if self.batched > part_size:  # a whole part, and more to come: send it
            if self.writer is None:
                self.writer = PartWriter(
                    self.storage.store, self.bucket, self.pending.key, self.content_type
                )
            # the part, joined once; the end of the last piece begins the next part
            over = self.batched - part_size  # < len(data): the part was not full before it
            self.batch[-1] = data[: len(data) - over]
            part = b"".join(self.batch)
            self.batch, self.batched = [data[len(data) - over :]], over
            try:
                await self.writer.send(part)
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
        self.bucket = await self.storage.store.ensure_bucket(self.principal.tenant)
        self.pending = await _insert_pending(
            self.storage, self.principal, self.bucket, self.existing
        )
        self.head = bytearray()
        await self._forward(head)

    async def finish(self) -> None:
        if self.size == 0:
            raise EmptyFile("The file is empty; send a document with content.")
        if not self.started:
            await self._start()
        assert self.scan is not None and self.pending is not None
        p = self.pending
        body, self.batch, self.batched = b"".join(self.batch), [], 0
        try:
            if self.writer is None:  # one part at most: stored in one call
                await self.storage.store.put_bytes(self.bucket, p.key, body, self.content_type)
            else:
                await self.writer.send(body)
                await self.writer.complete()
        except (*STORE_ERRORS, StoreUnavailable) as exc:
            raise StoreUnavailable() from exc  # logged once per outage (socle.outages)
        verdict = await self.scan.verdict()
        self.stored = Stored(
            p.document_id,
            p.version_id,
            p.number,
            p.bucket,
            p.key,
            self.filename,
            self.content_type,
            self.size,
            self.sha.hexdigest(),
            verdict,
        )

    async def abort(self) -> None:
        """Undo what was written: abort the store write, remove bytes and pending rows."""
        await self.close()
        if self.writer is not None:
            await self.writer.abort()
        if self.pending is not None:
            p = self.pending
            await discard_pending(
                self.storage, p.document_id, p.version_id, p.number, p.bucket, p.key
            )

    async def close(self) -> None:
        if self.scan is not None:
            with contextlib.suppress(Exception):
                await self.scan.close()


async def _insert_pending(
    storage: Storage, principal: Principal, bucket: str, existing: Document | None
) -> Pending:
    try:
        return await _insert_pending_rows(storage, principal, bucket, existing)
    except IntegrityError:
        raise VersionInProgress(
            "Another version of this document is being uploaded; retry once it is done."
        ) from None


async def _insert_pending_rows(
    storage: Storage, principal: Principal, bucket: str, existing: Document | None
) -> Pending:
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
    return Pending(doc_id, version_id, number, bucket, key)


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


@contextlib.asynccontextmanager
async def receive(
    storage: Storage,
    principal: Principal,
    content_type: str | None,
    body: AsyncIterator[bytes],
    existing: Document | None,
) -> AsyncIterator[Received]:
    """Read the multipart body as it arrives, streaming the ``file`` part to the store as a
    pending version of ``existing`` (or of a new pending document). Inside the block the use
    case activates it; on leaving, a version still pending (refused, failed, or an idempotent
    replay that did not need these bytes) is removed."""
    async with storage.sessions() as session, session.begin():
        rules = await load_rules(session, principal.tenant, storage.settings)
    sinks: list[_FileSink] = []

    def open_file(part: FilePart) -> _FileSink:
        sinks.append(_FileSink(storage, principal, rules, part, existing))
        return sinks[0]

    try:
        fields = await read_form(body, content_type, open_file)
    except ClientDisconnect:
        # The client went away mid-upload: one line, the partial object removed, no trace.
        if sinks:
            await sinks[0].abort()
        log.info("upload_aborted", received_bytes=sinks[0].size if sinks else 0)
        raise UploadAborted() from None
    except BaseException:
        if sinks:
            await sinks[0].abort()
        raise
    sink = sinks[0]
    assert sink.stored is not None
    received = Received(sink.stored, fields, rules)
    try:
        yield received
    finally:
        try:
            if not received.settled:
                await _discard_if_pending(storage, sink.stored)
        finally:
            await sink.close()
