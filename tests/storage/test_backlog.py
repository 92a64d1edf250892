"""Background work catches up: a purge backlog far beyond one batch is emptied in one run."""

from __future__ import annotations

import asyncio
import io
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from socle_storage.models import Document, DocumentVersion
from socle_storage.purge import BATCH, purge_once
from tests.support.storage import RULES, bucket_keys, upload

BACKLOG = 1000


async def test_a_backlog_of_a_thousand_documents_is_purged_in_one_run(
    started, auth, admin, s3, tenant
):
    assert BACKLOG > 5 * BATCH
    async with started() as (client, storage):
        assert (await client.put("/v1/rules", headers=admin, json=RULES)).status_code == 200
        due = (await upload(client, auth(), kind="temporary-proof")).json()
        kept = (await upload(client, auth(), kind="building-plan")).json()
        async with storage.sessions() as session, session.begin():
            doc = await session.get(Document, due["id"])
            version = (
                await session.execute(
                    select(DocumentVersion).where(DocumentVersion.document_id == due["id"])
                )
            ).scalar_one()
            copies = []
            for _ in range(BACKLOG - 1):  # the same document, many times over, bytes and all
                doc_id, version_id = uuid.uuid4().hex, uuid.uuid4().hex
                key = version.object_key.replace(due["id"], doc_id)
                session.add(_copy(doc, id=doc_id))
                copies.append(_copy(version, id=version_id, document_id=doc_id, object_key=key))
            await session.flush()
            session.add_all(copies)
            bucket = version.bucket

        def put(key: str) -> None:
            s3.put_object(bucket, key, io.BytesIO(b"%PDF-1.7 backlog"), 16)

        with ThreadPoolExecutor(8) as pool:
            await asyncio.to_thread(lambda: list(pool.map(put, [c.object_key for c in copies])))
        assert len(bucket_keys(s3, tenant)) == BACKLOG + 1

        report = await purge_once(storage)

        assert report.purged >= BACKLOG
        async with storage.sessions() as session:
            left = await session.scalar(
                select(func.count()).select_from(Document).where(Document.tenant == tenant)
            )
        assert left == 1
        assert len(bucket_keys(s3, tenant)) == 1
        assert (await client.get(f"/v1/documents/{kept['id']}", headers=admin)).status_code == 200
        metrics = (await client.get("/metrics")).text
        [line] = [
            m
            for m in metrics.splitlines()
            if m.startswith("background_backlog_items{") and 'loop="storage_purge"' in m
        ]
        assert float(line.rsplit(" ", 1)[1]) >= BACKLOG  # what the run found due


def _copy(row: Any, **changes: Any) -> Any:
    """A new row of the same table with the same values but ``changes``."""
    values = {c.key: getattr(row, c.key) for c in row.__mapper__.column_attrs}
    values.update(changes)
    return type(row)(**values)
