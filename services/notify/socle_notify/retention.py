"""Retention of notifications: a final notification (delivered, failed for good, cancelled)
older than its commune's retention (``notifications``, default
``SOCLE_NOTIFICATION_RETENTION_DAYS``) is deleted, in batches, unless under legal hold."""

from __future__ import annotations

import structlog
from fastapi import Request
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle import retention
from socle.legal_hold import legal_hold_router, not_held
from socle_notify.api.deps import Admin
from socle_notify.messages import FINAL
from socle_notify.models import Notification, legal_holds, retention_rules
from socle_notify.settings import NotifySettings

log = structlog.get_logger("socle_notify.retention")

CATEGORY = "notifications"
BATCH = 500


async def purge_once(sessions: async_sessionmaker[AsyncSession], settings: NotifySettings) -> int:
    """Delete every final notification past its commune's retention; how many."""
    deleted = 0
    async with sessions() as session:
        tenants = list((await session.execute(select(Notification.tenant).distinct())).scalars())
    for tenant in tenants:
        async with sessions() as session:
            days = (await retention.rules(session, retention_rules, tenant)).get(
                CATEGORY, settings.notification_retention_days
            )
        before = retention.cutoff(days)
        while before is not None:
            async with sessions() as session, session.begin():
                ids = list(
                    (
                        await session.execute(
                            select(Notification.id)
                            .where(
                                Notification.tenant == tenant,
                                Notification.status.in_(FINAL),
                                Notification.created_at < before,
                                not_held(
                                    legal_holds, CATEGORY, Notification.tenant, Notification.id
                                ),
                            )
                            .limit(BATCH)
                        )
                    ).scalars()
                )
                if ids:
                    await session.execute(delete(Notification).where(Notification.id.in_(ids)))
            deleted += len(ids)
            if len(ids) < BATCH:
                break
    if deleted:
        log.info("notifications_purged", count=deleted)
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
