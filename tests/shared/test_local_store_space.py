"""The local store of ``make run`` gives a deleted object's disk space back when asked
(``/vol/vacuum``, the command ``docs/developing.md`` gives). The master's own sweep (every
``LOCAL_SIZING.vacuum_seconds``) does the same; it is not waited for here."""

from __future__ import annotations

import asyncio
import io
import os
import uuid
from pathlib import Path

import httpx
from minio import Minio

from socle_dev.localinfra import LOCAL_SIZING, S3Server, StoreSizing, free_port
from socle_dev.testing import eventually

MIB = 1024 * 1024
OBJECT_MIB = 48


def _disk_mib(directory: Path) -> float:
    """Bytes the store's files hold on disk (volumes, indexes, the filer's metadata)."""
    used = sum(f.stat().st_blocks * 512 for f in directory.rglob("*") if f.is_file())
    return used / MIB


def _store(directory: Path, sizing: StoreSizing) -> tuple[S3Server, Minio]:
    server = S3Server.create(
        directory, free_port(), "space", "space-secret-" + uuid.uuid4().hex, sizing=sizing
    )
    server.start()
    client = Minio(
        f"127.0.0.1:{server.port}",
        access_key=server.access_key,
        secret_key=server.secret_key,
        secure=False,
    )
    return server, client


def _deleted_bytes(status: object) -> int:
    """``DeletedByteCount`` summed over the volumes of the master's ``/vol/status``."""
    if isinstance(status, dict):
        own = status.get("DeletedByteCount", 0)
        return int(own) + sum(_deleted_bytes(v) for v in status.values())
    if isinstance(status, list):
        return sum(_deleted_bytes(v) for v in status)
    return 0


def _fill_then_delete(client: Minio) -> None:
    client.make_bucket("socle-documents")
    body = os.urandom(OBJECT_MIB * MIB)
    client.put_object("socle-documents", "t/doc", io.BytesIO(body), len(body), part_size=8 * MIB)
    client.remove_object("socle-documents", "t/doc")


async def test_vacuum_on_request_frees_a_deleted_object(tmp_path: Path) -> None:
    server, client = _store(tmp_path / "s3", LOCAL_SIZING)
    try:
        _fill_then_delete(client)
        assert _disk_mib(tmp_path / "s3") > OBJECT_MIB  # deleted, still on disk
        async with httpx.AsyncClient(base_url=server.master_url, timeout=60) as http:

            async def marked_deleted() -> bool:
                status = (await http.get("/vol/status")).json()
                return _deleted_bytes(status) >= OBJECT_MIB * MIB

            # the filer deletes an object's chunks in the background
            await eventually(marked_deleted, "the chunks marked deleted in their volumes")
            answer = await http.get("/vol/vacuum", params={"garbageThreshold": "0.01"})
            answer.raise_for_status()

        async def freed() -> bool:
            return _disk_mib(tmp_path / "s3") < OBJECT_MIB / 4

        await eventually(freed, "the deleted object's volume space given back", within=30)
    finally:
        await asyncio.to_thread(server.stop)
