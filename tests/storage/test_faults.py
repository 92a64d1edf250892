"""Large uploads with bounded memory; the store stopped in the middle of an upload."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tracemalloc

from sqlalchemy import func, select

from socle_dev.testing import assert_problem, eventually
from socle_storage.models import Document, DocumentVersion
from socle_storage.purge import purge_once
from tests.support.storage import (
    BUCKET,
    bucket_keys,
    pdf_chunks,
    s3_server_for_tests,
    streamed_body,
)

MiB = 1024 * 1024


async def test_a_200_mb_upload_streams_with_bounded_memory(started, auth, admin, s3, tenant):
    size = 200 * MiB
    async with started() as (client, _):
        rules = {
            "max_size_bytes": 300 * MiB,
            "allowed_content_types": ["application/pdf"],
            "default_retention_days": 30,
        }
        assert (await client.put("/v1/rules", headers=admin, json=rules)).status_code == 200
        headers, body = streamed_body(pdf_chunks(size), fields={"kind": "survey"})
        tracemalloc.start()
        try:
            response = await client.post("/v1/documents", headers=auth() | headers, content=body)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert response.status_code == 201, response.text
        doc = response.json()
        assert doc["size"] == size
        # the whole file never sat in memory: a few 5 MiB parts at most
        assert peak < 40 * MiB, f"peak {peak / MiB:.1f} MiB for a {size / MiB:.0f} MiB upload"
        stat = s3.stat_object(BUCKET, bucket_keys(s3, tenant)[0])
        assert stat.size == size

        tail = await client.get(
            f"/v1/documents/{doc['id']}/content", headers=auth() | {"Range": "bytes=-4"}
        )
        assert tail.status_code == 206 and tail.content == b"1111"
        head = await client.get(
            f"/v1/documents/{doc['id']}/content", headers=auth() | {"Range": "bytes=0-7"}
        )
        assert head.content == b"%PDF-1.7"


async def test_a_file_of_several_parts_comes_back_byte_for_byte(started, auth, admin):
    # 5 MiB parts (the tests' setting): two whole parts and a last one, sent in uneven pieces
    content = b"%PDF-1.7\n" + os.urandom(12 * MiB + 12_345)

    async def pieces():
        at = 0
        for n in range(10_000):
            step = 70_001 + (n % 7) * 9_973
            yield content[at : at + step]
            at += step
            if at >= len(content):
                return

    async with started() as (client, _):
        rules = {
            "max_size_bytes": 20 * MiB,
            "allowed_content_types": ["application/pdf"],
            "default_retention_days": 30,
        }
        assert (await client.put("/v1/rules", headers=admin, json=rules)).status_code == 200
        headers, body = streamed_body(pieces(), fields={"kind": "survey"})
        response = await client.post("/v1/documents", headers=auth() | headers, content=body)
        assert response.status_code == 201, response.text
        doc = response.json()
        assert doc["size"] == len(content)
        assert doc["sha256"] == hashlib.sha256(content).hexdigest()
        back = await client.get(f"/v1/documents/{doc['id']}/content", headers=auth())
        assert back.status_code == 200
        assert back.content == content


async def pending_rows(storage, tenant: str) -> tuple[int, int]:
    async with storage.sessions() as session:
        docs = await session.scalar(
            select(func.count()).select_from(Document).where(Document.tenant == tenant)
        )
        versions = await session.scalar(
            select(func.count())
            .select_from(DocumentVersion)
            .where(DocumentVersion.tenant == tenant, DocumentVersion.status == "pending")
        )
    return int(docs or 0), int(versions or 0)


async def test_store_stopped_during_an_upload_leaves_nothing_visible(
    started, auth, tenant, tmp_path, nats_server
):
    async with asyncio.timeout(240):  # fail, never hang, if the machine misbehaves
        await _store_stopped_during_an_upload(started, auth, tenant, tmp_path, nats_server)


async def _store_stopped_during_an_upload(started, auth, tenant, tmp_path, nats_server):
    from minio import Minio

    server = s3_server_for_tests(tmp_path / "s3", log=(tmp_path / "weed.log").open("wb"))
    await asyncio.to_thread(server.start)
    try:
        s3 = Minio(
            server.endpoint.removeprefix("http://"),
            access_key=server.access_key,
            secret_key=server.secret_key,
            secure=False,
            region="us-east-1",
        )
        store = {
            "s3_endpoint": server.endpoint,
            "s3_access_key": server.access_key,
            "s3_secret_key": server.secret_key,
            "s3_timeout_seconds": 3,
        }

        def parts_in_the_store() -> int:
            # the S3 API lists the parts of uploads in progress (minio names those calls private)
            found = s3._list_multipart_uploads(BUCKET, prefix=f"{tenant}/")
            return sum(
                len(s3._list_parts(BUCKET, u.object_name, u.upload_id).parts) for u in found.uploads
            )

        async def two_parts_stored() -> bool:
            return await asyncio.to_thread(parts_in_the_store) >= 2

        async def chunks_then_crash():
            sent = 0
            async for chunk in pdf_chunks(40 * MiB):
                yield chunk
                sent += len(chunk)
                if sent == 12 * MiB:  # two 5 MiB parts can be in the store: wait until they are
                    await eventually(two_parts_stored, "two parts of the upload in the store")
                    await asyncio.to_thread(server.kill)

        async with started(**store) as (client, storage):
            headers, body = streamed_body(chunks_then_crash(), fields={"kind": "plan"})
            response = await client.post("/v1/documents", headers=auth() | headers, content=body)
            assert_problem(response, 503, "store-unavailable")
            assert response.headers["retry-after"] == "5"
            assert (await client.get("/v1/documents", headers=auth())).json()["items"] == []
            # the store could not even be told to clean up: a pending row remembers the upload
            assert await pending_rows(storage, tenant) == (1, 1)
            ready = await client.get("/readyz")  # operators see which dependency is down
            assert ready.status_code == 503
            assert ready.json()["checks"]["store"].startswith("down")

        await asyncio.to_thread(server.start)  # the store comes back, the service restarts
        assert nats_server.proc.poll() is None, "the test session's NATS is gone"
        async with started(**store, pending_timeout_seconds=0, purge_interval_seconds=3600) as (
            client,
            storage,
        ):

            async def reconciled() -> bool:  # the reconciler runs at start-up
                return await pending_rows(storage, tenant) == (0, 0)

            await eventually(reconciled, "the pending upload reconciled", within=20)
            assert bucket_keys(s3, tenant) == []
            assert (await client.get("/v1/documents", headers=auth())).json()["items"] == []
            # and the service works again
            headers, body = streamed_body(pdf_chunks(MiB), fields={"kind": "plan"})
            ok = await client.post("/v1/documents", headers=auth() | headers, content=body)
            assert ok.status_code == 201, ok.text
            assert (await purge_once(storage)).reconciled == 0
    finally:
        await asyncio.to_thread(server.kill)
