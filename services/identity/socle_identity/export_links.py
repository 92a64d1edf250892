"""The life of an export once every part is in: the person is told (``person.export.available``,
which notify mails) with a link to identity's page of the export, valid
``SOCLE_EXPORT_LINK_SECONDS``; after that the parts are deleted from storage and the link
answers 410."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.db import utcnow
from socle.events import CloudEvent
from socle.export_parts import storage_parts
from socle.outbox import record_event
from socle_identity import events, exports
from socle_identity.models import Export, ExportAnswer, Tenant, User
from socle_identity.settings import IdentitySettings

log = structlog.get_logger("socle_identity.export_links")

BATCH = 100


def page_url(issuer: str, export_id: str) -> str:
    """The page of an export at identity (the person logs in to see it)."""
    return f"{issuer.rstrip('/')}/account/exports/{export_id}"


async def notify_when_complete(
    session: AsyncSession, export: Export, settings: IdentitySettings
) -> None:
    """Once every part of ``export`` is in, start the link's time and tell the person
    (once; nobody is told when the account is gone meanwhile)."""
    if export.notified_at is not None or export.deleted_at is not None:
        return  # told already, or given up (``records``)
    answered = set(
        (
            await session.execute(
                select(ExportAnswer.service).where(ExportAnswer.export_id == export.id)
            )
        ).scalars()
    )
    if not set(export.services) <= answered:
        return
    now = utcnow()
    export.notified_at = now
    export.expires_at = now + timedelta(seconds=settings.export_link_seconds)
    user = await session.get(User, export.user_id)
    if user is None:
        return
    commune = await session.get(Tenant, export.tenant)
    await record_event(
        session,
        events.export_available(
            tenant=export.tenant,
            user_id=user.id,
            locale=user.locale,
            export_id=export.id,
            download_url=page_url(settings.issuer, export.id),
            expires_at=export.expires_at.replace(microsecond=0).isoformat(),
            commune=commune.name if commune is not None and commune.name else export.tenant,
        ),
        aggregate=f"export:{export.id}",
    )


def part_effect(
    settings: IdentitySettings,
) -> Callable[[AsyncSession, CloudEvent], Awaitable[None]]:
    """The effect of a ``person.export.ready``: keep the part, and tell the person when it
    was the last one (in the inbox's transaction)."""

    async def effect(session: AsyncSession, event: CloudEvent) -> None:
        export = await exports.on_part(session, event)
        if export is not None:
            await session.flush()
            await notify_when_complete(session, export, settings)

    return effect


async def purge_expired(
    sessions: async_sessionmaker[AsyncSession], settings: IdentitySettings
) -> int:
    """Delete the parts of every export whose link has expired, in batches; how many were
    deleted. One storage cannot reach stays for the next run."""
    deleted = 0
    failed: set[str] = set()
    writer = storage_parts(settings, settings.issuer) if settings.writes_export_parts else None
    while True:
        query = (
            select(Export.id, Export.tenant)
            .where(Export.expires_at <= utcnow(), Export.deleted_at.is_(None))
            .order_by(Export.id)
            .limit(BATCH)
        )
        if failed:
            query = query.where(Export.id.notin_(failed))
        async with sessions() as session:
            due = list((await session.execute(query)).tuples())
        for export_id, tenant in due:
            try:
                if writer is not None:
                    await writer.delete(tenant, export_id)
            except httpx.HTTPError as exc:
                log.warning("export_purge_deferred", export_id=export_id, error=repr(exc))
                failed.add(export_id)
                continue
            async with sessions() as session, session.begin():
                export = await session.get(Export, export_id)
                if export is not None:
                    export.deleted_at = utcnow()
            deleted += 1
            log.info("export_deleted", export_id=export_id)
        if len(due) < BATCH:
            return deleted
