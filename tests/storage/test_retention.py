"""Retention of what storage keeps: a changed document retention applies to the documents
already stored (a shorter one makes them due for the next purge, a longer one keeps them
longer), also when the service fails while applying it; the access log's reads are deleted
after their own retention."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from socle.db import utcnow
from socle_dev.testing import eventually
from socle_storage import tenant_rules
from socle_storage.models import AccessRecord, Document, TenantRules
from socle_storage.purge import purge_once
from tests.support.storage import bucket_keys, upload

RULES = {
    "max_size_bytes": 10_000_000,
    "allowed_content_types": ["application/pdf"],
    "default_retention_days": 3650,
    "retention_days": {"id-card": 365},
}


async def _backdate(storage, document_id: str, days: int) -> datetime:
    """The document as if uploaded ``days`` ago under the rules of its time."""
    created = utcnow() - timedelta(days=days)
    async with storage.sessions() as session, session.begin():
        doc = await session.get(Document, document_id)
        doc.retention_until = created + (doc.retention_until - doc.created_at)
        doc.created_at = created
    return created


async def test_a_changed_retention_applies_to_the_documents_already_stored(
    started, auth, admin, s3, tenant
):
    async with started() as (client, storage):
        assert (await client.put("/v1/rules", headers=admin, json=RULES)).status_code == 200
        card = (await upload(client, auth(), kind="id-card")).json()["id"]
        plan = (await upload(client, auth(), kind="building-plan")).json()["id"]
        card_created = await _backdate(storage, card, 200)
        plan_created = await _backdate(storage, plan, 200)
        await purge_once(storage)  # 365 days for id cards: nothing due yet
        assert (await client.get(f"/v1/documents/{card}", headers=admin)).status_code == 200

        shorter = RULES | {"default_retention_days": 7300, "retention_days": {"id-card": 100}}
        assert (await client.put("/v1/rules", headers=admin, json=shorter)).status_code == 200
        shown = (await client.get(f"/v1/documents/{card}", headers=admin)).json()
        assert datetime.fromisoformat(shown["retention_until"]) == card_created + timedelta(
            days=100
        )
        longer = (await client.get(f"/v1/documents/{plan}", headers=admin)).json()
        assert datetime.fromisoformat(longer["retention_until"]) == plan_created + timedelta(
            days=7300
        )
        report = await purge_once(storage)
        assert report.purged == 1  # the id card, 200 days old, past its new 100 days
        assert (await client.get(f"/v1/documents/{card}", headers=admin)).status_code == 404
        assert (await client.get(f"/v1/documents/{plan}", headers=admin)).status_code == 200
        assert not any(card in key for key in bucket_keys(s3, tenant))


@contextmanager
def failing_reapply(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """While open, the service fails (its database gone, say) when it gives the documents a
    changed retention, after the rules were saved."""
    real = tenant_rules._reapply_batch
    down = [True]

    async def batch(*args: Any, **kwargs: Any) -> Any:
        if down[0]:
            raise ConnectionResetError("the database went away")
        return await real(*args, **kwargs)

    monkeypatch.setattr(tenant_rules, "_reapply_batch", batch)
    try:
        yield
    finally:
        down[0] = False


async def _until(storage, document_id: str) -> datetime:
    async with storage.sessions() as session:
        doc = await session.get(Document, document_id)
        return doc.retention_until


async def _pending(storage, tenant: str) -> bool:
    async with storage.sessions() as session:
        row = await session.get(TenantRules, tenant)
        return row.reapply_pending_since is not None


async def test_a_shorter_retention_cut_short_by_a_crash_is_finished_by_the_periodic_purge(
    started, auth, admin, tenant, monkeypatch
):
    async with started(purge_interval_seconds=0.2) as (client, storage):
        assert (await client.put("/v1/rules", headers=admin, json=RULES)).status_code == 200
        card = (await upload(client, auth(), kind="id-card")).json()["id"]
        plan = (await upload(client, auth(), kind="building-plan")).json()["id"]
        card_created = await _backdate(storage, card, 200)
        plan_created = await _backdate(storage, plan, 200)
        shorter = RULES | {"default_retention_days": 7300, "retention_days": {"id-card": 100}}
        with failing_reapply(monkeypatch):
            failed = await client.put("/v1/rules", headers=admin, json=shorter)
            assert failed.status_code == 503  # database unavailable
            assert await _until(storage, card) == card_created + timedelta(days=365)
        # the rules were saved; the next periodic purge gives the documents their new end
        # dates and purges what the shorter retention makes due
        assert (await client.get("/v1/rules", headers=admin)).json()["retention_days"] == {
            "id-card": 100
        }

        async def card_gone() -> bool:
            got = await client.get(f"/v1/documents/{card}", headers=admin)
            return got.status_code == 404

        await eventually(card_gone, "the id card purged under its new retention")
        assert await _until(storage, plan) == plan_created + timedelta(days=7300)
        assert not await _pending(storage, tenant)


async def test_no_document_is_purged_by_an_end_date_its_commune_has_lengthened(
    started, auth, admin, tenant, monkeypatch
):
    async with started() as (client, storage):
        assert (await client.put("/v1/rules", headers=admin, json=RULES)).status_code == 200
        card = (await upload(client, auth(), kind="id-card")).json()["id"]
        created = await _backdate(storage, card, 400)  # past its 365 days: due
        longer = RULES | {"retention_days": {"id-card": 1000}}
        with failing_reapply(monkeypatch):
            assert (await client.put("/v1/rules", headers=admin, json=longer)).status_code == 503
        assert await _until(storage, card) == created + timedelta(days=365)  # not yet given
        assert await _pending(storage, tenant)

        report = await purge_once(storage)
        assert report.purged == 0 and report.reapplied == 1
        assert (await client.get(f"/v1/documents/{card}", headers=admin)).status_code == 200
        assert await _until(storage, card) == created + timedelta(days=1000)
        assert not await _pending(storage, tenant)
        assert (await purge_once(storage)).reapplied == 0


async def test_saving_the_rules_again_finishes_a_reapply_cut_short(
    started, auth, admin, tenant, monkeypatch
):
    async with started() as (client, storage):
        assert (await client.put("/v1/rules", headers=admin, json=RULES)).status_code == 200
        card = (await upload(client, auth(), kind="id-card")).json()["id"]
        created = await _backdate(storage, card, 10)
        longer = RULES | {"retention_days": {"id-card": 1000}}
        with failing_reapply(monkeypatch):
            assert (await client.put("/v1/rules", headers=admin, json=longer)).status_code == 503
        assert await _pending(storage, tenant)
        assert (await client.put("/v1/rules", headers=admin, json=longer)).status_code == 200
        assert await _until(storage, card) == created + timedelta(days=1000)
        assert not await _pending(storage, tenant)


async def test_the_access_log_is_purged_after_its_retention(started, auth, admin, tenant):
    async with started(access_log_retention_days=90) as (client, storage):
        doc = (await upload(client, auth(), kind="building-plan")).json()["id"]
        for _ in range(2):
            read = await client.get(f"/v1/documents/{doc}/content", headers=auth())
            assert read.status_code == 200
        async with storage.sessions() as session, session.begin():
            first = await session.scalar(
                select(AccessRecord.id)
                .where(AccessRecord.document_id == doc)
                .order_by(AccessRecord.id)
                .limit(1)
            )
            await session.execute(
                update(AccessRecord)
                .where(AccessRecord.id == first)
                .values(at=utcnow() - timedelta(days=91))
            )
        report = await purge_once(storage)
        assert report.access_records >= 1
        async with storage.sessions() as session:
            left = list(
                (
                    await session.execute(
                        select(AccessRecord.id).where(AccessRecord.document_id == doc)
                    )
                ).scalars()
            )
        assert len(left) == 1 and first not in left
        assert (await purge_once(storage)).access_records == 0
