"""The records of a person's rights do not stay forever: an erasure's record (the proof it
was done) goes after ``erasure_record_days``; an export's record goes ``export_record_days``
after its parts were deleted; an export that never completed is given up (it expires, so the
export purge deletes its parts) and its record goes later. Answers go with their record."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from socle.db import utcnow
from socle_identity import records
from socle_identity.models import Erasure, ErasureAnswer, Export, ExportAnswer


async def test_erasure_and_export_records_are_deleted_after_their_retention(identity, tenant):
    now = utcnow()
    settings = identity.app.state.runtime.settings.model_copy(
        update={"erasure_record_days": 365, "export_record_days": 30}
    )

    def erasure(age: int) -> Erasure:
        return Erasure(
            id=uuid.uuid4().hex,
            tenant=tenant,
            user_id="anna-subject",
            requested_at=now - timedelta(days=age),
            services=["storage"],
        )

    def export(age: int, deleted: int | None, notified: bool = True) -> Export:
        return Export(
            id=uuid.uuid4().hex,
            tenant=tenant,
            user_id="anna-subject",
            requested_at=now - timedelta(days=age),
            services=["storage"],
            notified_at=now - timedelta(days=age) if notified else None,
            expires_at=now - timedelta(days=age - 7) if notified else None,
            deleted_at=now - timedelta(days=deleted) if deleted is not None else None,
        )

    erasures = {"old": erasure(400), "recent": erasure(100)}
    exports = {
        "old_deleted": export(60, deleted=40),
        "recently_deleted": export(20, deleted=10),
        "never_completed": export(45, deleted=None, notified=False),
    }
    async with identity.sessions() as session, session.begin():
        session.add_all([*erasures.values(), *exports.values()])
        await session.flush()
        session.add_all(
            ErasureAnswer(erasure_id=e.id, service="storage", answered_at=now, outcome={})
            for e in erasures.values()
        )
        session.add_all(
            ExportAnswer(export_id=e.id, service="storage", answered_at=now, object="x", counts={})
            for e in exports.values()
        )

    # (the service's own pass, with the same settings, may have done part of it already)
    await records.purge_records(identity.sessions, settings)
    async with identity.sessions() as session:
        left_erasures = {n for n, e in erasures.items() if await session.get(Erasure, e.id)}
        left_exports = {n for n, e in exports.items() if await session.get(Export, e.id)}
        answered = set((await session.execute(select(ErasureAnswer.erasure_id))).scalars())
        parts = set((await session.execute(select(ExportAnswer.export_id))).scalars())
        given_up = await session.get(Export, exports["never_completed"].id)
    assert left_erasures == {"recent"}
    assert erasures["old"].id not in answered and erasures["recent"].id in answered
    assert left_exports == {"recently_deleted", "never_completed"}
    assert exports["old_deleted"].id not in parts
    # the export that never completed now expires: the export purge deletes its parts
    assert given_up.expires_at is not None and given_up.expires_at <= utcnow()
    assert await records.purge_records(identity.sessions, settings) == 0
