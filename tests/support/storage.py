"""Helpers of the storage tests: sample files, uploads, the keys in the store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from minio import Minio

from socle_dev.localinfra import S3Server, free_port

READ_WRITE = ["documents:read", "documents:write"]
PDF = b"%PDF-1.7\n" + b"1 0 obj\n<< /Type /Catalog >>\nendobj\n" * 200 + b"%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
BUCKET = "socle-documents"


def bucket_keys(s3: Minio, tenant: str) -> list[str]:
    """The keys of the tenant's objects in the store."""
    if not s3.bucket_exists(BUCKET):
        return []
    objects = s3.list_objects(BUCKET, prefix=f"{tenant}/", recursive=True)
    return [o.object_name for o in objects if o.object_name]


def multipart(
    content: bytes,
    *,
    filename: str = "plan.pdf",
    content_type: str = "application/pdf",
    **fields: str,
) -> dict[str, Any]:
    """``files``/``data`` arguments of httpx for an upload."""
    return {"files": {"file": (filename, content, content_type)}, "data": fields}


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    content: bytes = PDF,
    *,
    filename: str = "plan.pdf",
    content_type: str = "application/pdf",
    **fields: str,
) -> httpx.Response:
    fields.setdefault("kind", "building-plan")
    return await client.post(
        "/v1/documents",
        headers=headers,
        **multipart(content, filename=filename, content_type=content_type, **fields),
    )


BOUNDARY = "socle-test-boundary-7f3a"


def streamed_body(
    chunks: Any,
    *,
    filename: str = "big.pdf",
    content_type: str = "application/pdf",
    fields: dict[str, str] | None = None,
) -> tuple[dict[str, str], Any]:
    """A multipart body sent chunk by chunk (as a browser streams a large file)."""

    async def body() -> AsyncIterator[bytes]:
        for name, value in (fields or {}).items():
            yield (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            ).encode()
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        ).encode()
        async for chunk in chunks:
            yield chunk
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    return {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}, body()


async def pdf_chunks(total: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``total`` bytes of a PDF-looking file, one reused chunk at a time."""
    block = b"%PDF-1.7\n" + b"0" * (chunk - 9)
    yield block
    sent = len(block)
    filler = b"1" * chunk
    while sent < total:
        piece = filler[: min(chunk, total - sent)]
        sent += len(piece)
        yield piece


RULES = {
    "max_size_bytes": 1024 * 1024,
    "allowed_content_types": ["application/pdf", "text/plain"],
    "default_retention_days": 365,
    "retention_days": {"temporary-proof": 0},
}


def s3_server_for_tests(directory: Path, log: Any = None) -> S3Server:
    """A SeaweedFS of a test's own (on free ports), for tests that stop the store."""
    return S3Server.create(
        directory, free_port(), "socle-test", "socle-test-secret-" + uuid.uuid4().hex, log=log
    )
