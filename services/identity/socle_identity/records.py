"""Retention of the records of a person's rights: an erasure's record (its id, the account
id, when, each service's answer) is the proof that it was done and is deleted
``SOCLE_ERASURE_RECORD_DAYS`` after it was asked; an export's record is deleted
``SOCLE_EXPORT_RECORD_DAYS`` after its parts were deleted. An export that never completed
(a service never wrote its part) is given up that many days after it was asked: it expires,
so the export purge deletes the parts that were written. In batches, answers first."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from socle.db import utcnow
from socle.retention import in_batches
from socle_identity.models import Erasure, ErasureAnswer, Export, ExportAnswer
from socle_identity.settings import IdentitySettings

log = structlog.get_logger("socle_identity.records")

BATCH = 500


async def _delete_due(
    sessions: async_sessionmaker[AsyncSession],
    parent: type[Erasure] | type[Export],
    child: type[ErasureAnswer] | type[ExportAnswer],
    link: InstrumentedAttribute[str],
    due: ColumnElement[bool],
) -> int:
    """Records of ``parent`` that are ``due``, with their answers (``child``, pointing to
    them by ``link``), deleted ``BATCH`` a transaction; how many records."""

    async def batch(session: AsyncSession) -> int:
        ids = list((await session.execute(select(parent.id).where(due).limit(BATCH))).scalars())
        if ids:
            await session.execute(delete(child).where(link.in_(ids)))
            await session.execute(delete(parent).where(parent.id.in_(ids)))
        return len(ids)

    return await in_batches(sessions, batch, BATCH)


async def purge_records(
    sessions: async_sessionmaker[AsyncSession], settings: IdentitySettings
) -> int:
    """Delete the erasure and export records past their retention; how many."""
    now = utcnow()
    erasures = exports = 0
    if settings.erasure_record_days > 0:
        before = now - timedelta(days=settings.erasure_record_days)
        erasures = await _delete_due(
            sessions,
            Erasure,
            ErasureAnswer,
            ErasureAnswer.erasure_id,
            Erasure.requested_at < before,
        )
    if settings.export_record_days > 0:
        before = now - timedelta(days=settings.export_record_days)
        async with sessions() as session, session.begin():
            await session.execute(
                update(Export)
                .where(
                    Export.notified_at.is_(None),
                    Export.expires_at.is_(None),
                    Export.requested_at < before,
                )
                .values(expires_at=now)
            )
        exports = await _delete_due(
            sessions, Export, ExportAnswer, ExportAnswer.export_id, Export.deleted_at < before
        )
    if erasures or exports:
        log.info("privacy_records_purged", erasures=erasures, exports=exports)
    return erasures + exports
