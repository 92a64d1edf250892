"""The S3-compatible store, through the MinIO SDK (blocking, run in worker threads).

Each tenant has its own prefix (or, if configured, its own bucket), created on demand; object
keys are built only from the token's tenant and ids the service generated."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import re
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

import structlog
import urllib3
from minio import Minio
from minio.datatypes import Object, Part
from minio.error import MinioException, S3Error
from minio.sse import Sse, SseKMS, SseS3

from socle_storage.errors import StoreUnavailable
from socle_storage.settings import StorageSettings

log = structlog.get_logger("socle_storage.store")

READ_CHUNK = 1024 * 1024
"""Bytes read from the store at a time when serving a download; one more chunk is read ahead
while the previous one is sent, so a download holds at most two chunks in memory."""
UPLOAD_THREADS = 16
"""Parts sent at once (one per upload); more wait their turn, and the threads of other store
calls stay free."""
_BUCKET_OK = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")


def _client(endpoint: str, settings: StorageSettings, retries: int) -> Minio:
    url = urlparse(endpoint)
    timeout = urllib3.Timeout(connect=settings.s3_timeout_seconds, read=settings.s3_timeout_seconds)
    http = urllib3.PoolManager(
        timeout=timeout,
        maxsize=16,
        retries=urllib3.Retry(
            total=retries, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
        ),
    )
    return Minio(
        url.netloc,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        secure=url.scheme == "https",
        region=settings.s3_region,
        http_client=http,
    )


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


_TENANT_OK = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def tenant_prefix(tenant: str) -> str:
    """Where a tenant's objects are, under its bucket (ends with ``/``)."""
    return (tenant if _TENANT_OK.match(tenant) else f"x{_digest(tenant)}") + "/"


def object_key(tenant: str, document_id: str, version_id: str) -> str:
    """The key of a version's bytes: the tenant (from the verified token) and generated ids,
    never user input."""
    return f"{tenant_prefix(tenant)}documents/{document_id}/{version_id}"


class PartWriter:
    """A multipart upload driven from the event loop, one part at a time: each part, joined
    once, is sent by a worker thread while the next one arrives; :meth:`send` waits for the
    part in flight first, so an upload holds about two parts whatever the file size. Uses the
    MinIO SDK's multipart calls (``put_object`` with an unknown length reads a part and one
    byte more, and copies each part three more times)."""

    def __init__(self, store: Store, bucket: str, key: str, content_type: str) -> None:
        self._store = store
        self._bucket = bucket
        self._key = key
        self._headers: dict[str, str | list[str] | tuple[str]] = {
            "Content-Type": content_type,
            **(store.sse.headers() if store.sse else {}),
        }
        self._upload_id: str | None = None
        self._parts: list[Part] = []
        self._in_flight: asyncio.Future[str] | None = None

    def _run(self, fn: Any, *args: Any) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().run_in_executor(self._store.writers, fn, *args)

    async def _settle(self) -> None:
        """Wait for the part in flight (raise its error)."""
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            self._parts.append(Part(len(self._parts) + 1, await in_flight))

    async def send(self, body: bytes) -> None:
        await self._settle()
        client = self._store.client
        if self._upload_id is None:
            self._upload_id = await self._run(
                client._create_multipart_upload, self._bucket, self._key, dict(self._headers)
            )
        self._in_flight = self._run(
            client._upload_part,
            self._bucket,
            self._key,
            body,
            None,
            self._upload_id,
            len(self._parts) + 1,
        )

    async def complete(self) -> None:
        await self._settle()
        assert self._upload_id is not None
        await self._run(
            self._store.client._complete_multipart_upload,
            self._bucket,
            self._key,
            self._upload_id,
            self._parts,
        )

    async def abort(self) -> None:
        """Drop the parts sent (nothing kept in the store); never raises."""
        if self._in_flight is not None:
            with contextlib.suppress(Exception):
                await self._in_flight
            self._in_flight = None
        if self._upload_id is not None:
            with contextlib.suppress(Exception):
                await self._run(
                    self._store.client._abort_multipart_upload,
                    self._bucket,
                    self._key,
                    self._upload_id,
                )


def _release(response: Any, read: asyncio.Future[bytes] | None) -> None:
    """Close a response of the store (and consume the error of a read nobody awaits)."""
    if read is not None and not read.cancelled():
        read.exception()
    response.close()
    response.release_conn()


class Store:
    def __init__(self, settings: StorageSettings) -> None:
        self.settings = settings
        self.client = _client(settings.s3_endpoint, settings, retries=2)
        self.presigner = _client(
            settings.s3_public_endpoint or settings.s3_endpoint, settings, retries=0
        )
        self._buckets: set[str] = set()
        self._lock = asyncio.Lock()
        self.writers = ThreadPoolExecutor(UPLOAD_THREADS, thread_name_prefix="storage-upload")
        """The threads sending the parts of uploads."""

    def close(self) -> None:
        self.writers.shutdown(wait=False, cancel_futures=True)

    @property
    def sse(self) -> Sse | None:
        if self.settings.s3_sse == "AES256":
            return SseS3()
        if self.settings.s3_sse == "aws:kms":
            return SseKMS(self.settings.s3_sse_kms_key_id, {})
        return None

    def bucket_for(self, tenant: str) -> str:
        if not self.settings.s3_bucket_per_tenant:
            return self.settings.s3_bucket
        name = f"{self.settings.s3_bucket}-{tenant}"
        if not _BUCKET_OK.match(name) or len(name) > 63:
            name = f"{self.settings.s3_bucket}-x{_digest(tenant)}"
        return name

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except S3Error:
            raise
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StoreUnavailable() from exc  # logged once per outage (socle.outages)

    async def check(self) -> None:
        """Raise when the store cannot be reached (for /readyz)."""
        await self._call(self.client.bucket_exists, self.settings.s3_bucket)

    async def ensure_bucket(self, tenant: str) -> str:
        bucket = self.bucket_for(tenant)
        if bucket in self._buckets:
            return bucket
        async with self._lock:
            if bucket not in self._buckets:
                if not await self._call(self.client.bucket_exists, bucket):
                    try:
                        await self._call(self.client.make_bucket, bucket)
                    except S3Error as exc:
                        if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                            raise
                    log.info("bucket_created", bucket=bucket)
                self._buckets.add(bucket)
        return bucket

    async def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        """Write an object held in memory in one request (encrypted like every object; an
        upload of one part at most, an export's part)."""
        await self._call(
            self.client.put_object,
            bucket,
            key,
            io.BytesIO(body),
            len(body),
            content_type=content_type,
            sse=self.sse,
            part_size=max(self.settings.s3_part_size_bytes, len(body)),
        )

    async def list_prefix(
        self, bucket: str, prefix: str, *, recursive: bool = False
    ) -> list[Object]:
        """The objects under ``prefix`` (and below, when ``recursive``); none when the bucket
        does not exist."""
        try:
            found: list[Object] = await self._call(
                lambda: list(self.client.list_objects(bucket, prefix=prefix, recursive=recursive))
            )
        except S3Error as exc:
            if exc.code != "NoSuchBucket":
                raise
            return []
        return found

    async def remove(self, bucket: str, key: str) -> None:
        try:
            await self._call(self.client.remove_object, bucket, key)
        except S3Error as exc:
            if exc.code != "NoSuchBucket":
                raise

    async def exists(self, bucket: str, key: str) -> bool:
        try:
            await self._call(self.client.stat_object, bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchBucket", "NoSuchObject"):
                return False
            raise
        return True

    async def read(
        self, bucket: str, key: str, offset: int, length: int, *, whole: bool = False
    ) -> AsyncGenerator[bytes, None]:
        """Stream ``length`` bytes from ``offset`` (``whole``: the whole object, of ``length``
        bytes, asked without a range), a chunk at a time: the object is opened and its first
        chunk read in one worker-thread call, and each next chunk is read while the caller
        sends the previous one."""

        def open_and_read() -> tuple[Any, bytes]:
            response = (
                self.client.get_object(bucket, key)
                if whole
                else self.client.get_object(bucket, key, offset=offset, length=length)
            )
            try:
                return response, response.read(min(READ_CHUNK, length))
            except BaseException:
                response.close()
                response.release_conn()
                raise

        response, chunk = await self._call(open_and_read)
        left = length - len(chunk)
        ahead: asyncio.Future[bytes] | None = None
        try:
            while chunk:
                ahead = (
                    asyncio.ensure_future(self._call(response.read, min(READ_CHUNK, left)))
                    if left > 0
                    else None
                )
                yield chunk
                if ahead is None:
                    break
                chunk = await ahead
                ahead = None
                left -= len(chunk)
        finally:
            if ahead is None or ahead.done():
                _release(response, ahead)
            else:  # the caller stopped early: close once the read in flight has ended
                ahead.add_done_callback(lambda done: _release(response, done))

    def presign(self, bucket: str, key: str, filename: str, content_type: str) -> str:
        """A GET link valid ``presign_seconds``, served as an attachment (no network call)."""
        from urllib.parse import quote

        return self.presigner.presigned_get_object(
            bucket,
            key,
            expires=timedelta(seconds=self.settings.presign_seconds),
            response_headers={
                "response-content-disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
                "response-content-type": content_type,
            },
        )
