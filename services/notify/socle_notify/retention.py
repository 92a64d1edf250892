"""Retention of notifications: a final notification (delivered, failed for good, cancelled)
older than its commune's retention (``notifications``, default
``SOCLE_NOTIFICATION_RETENTION_DAYS``) is deleted, in batches, unless under legal hold. The
same pass erases the notifications of persons erased while they were held, once the hold is
lifted, and deletes finished webhook deliveries (delivered or dead) older than
``SOCLE_WEBHOOK_DELIVERY_RETENTION_DAYS`` with their attempts."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from fastapi import Request
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle import retention
from socle.db import utcnow
from socle.legal_hold import legal_hold_router, not_held
from socle_notify import privacy
from socle_notify.api.deps import Admin
from socle_notify.messages import FINAL
from socle_notify.models import (
    Notification,
    WebhookAttempt,
    WebhookDelivery,
    legal_holds,
    retention_rules,
)
from socle_notify.settings import NotifySettings

log = structlog.get_logger("socle_notify.retention")

CATEGORY = "notifications"
BATCH = 500


async def purge_once(sessions: async_sessionmaker[AsyncSession], settings: NotifySettings) -> int:
    """Delete every final notification past its commune's retention (and erase those of
    erased persons no longer held); how many were deleted."""
    released = await privacy.erase_released(sessions, BATCH)
    if released:
        log.info("notifications_erased_after_hold", count=released)
    deleted = 0
    async with sessions() as session:
        tenants = list((await session.execute(select(Notification.tenant).distinct())).scalars())
    for tenant in tenants:
        async with sessions() as session:
            days = (await retention.rules(session, retention_rules, tenant)).get(
                CATEGORY, settings.notification_retention_days
            )
        before = retention.cutoff(days)
        if before is None:
            continue

        async def batch(
            session: AsyncSession, tenant: str = tenant, before: datetime = before
        ) -> int:
            ids = list(
                (
                    await session.execute(
                        select(Notification.id)
                        .where(
                            Notification.tenant == tenant,
                            Notification.status.in_(FINAL),
                            Notification.created_at < before,
                            not_held(legal_holds, CATEGORY, Notification.tenant, Notification.id),
                        )
                        .limit(BATCH)
                    )
                ).scalars()
            )
            if ids:
                await session.execute(delete(Notification).where(Notification.id.in_(ids)))
            return len(ids)

        deleted += await retention.in_batches(sessions, batch, BATCH)
    if deleted:
        log.info("notifications_purged", count=deleted)
    return deleted + await purge_webhook_deliveries(sessions, settings)


async def purge_webhook_deliveries(
    sessions: async_sessionmaker[AsyncSession], settings: NotifySettings
) -> int:
    """Delete finished webhook deliveries past their retention, attempts first, in batches;
    how many deliveries."""
    days = settings.webhook_delivery_retention_days
    if days <= 0:
        return 0
    before = utcnow() - timedelta(days=days)

    async def batch(session: AsyncSession) -> int:
        ids = list(
            (
                await session.execute(
                    select(WebhookDelivery.id)
                    .where(
                        WebhookDelivery.status.in_(("delivered", "dead")),
                        WebhookDelivery.created_at < before,
                    )
                    .limit(BATCH)
                )
            ).scalars()
        )
        if ids:
            await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids)))
            await session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
        return len(ids)

    deleted = await retention.in_batches(sessions, batch, BATCH)
    if deleted:
        log.info("webhook_deliveries_purged", count=deleted)
    return deleted


def _defaults(request: Request) -> dict[str, int | None]:
    settings: NotifySettings = request.app.state.runtime.settings
    return {CATEGORY: settings.notification_retention_days}


router = retention.retention_router(
    table=retention_rules,
    principal=Admin,
    known=lambda category: category == CATEGORY,
    defaults=_defaults,
    tag="retention",
)


async def _exists(session: AsyncSession, tenant: str, record_id: str) -> bool:
    row = await session.get(Notification, record_id)
    return row is not None and row.tenant == tenant


holds_router = legal_hold_router(table=legal_holds, principal=Admin, exists_for={CATEGORY: _exists})
