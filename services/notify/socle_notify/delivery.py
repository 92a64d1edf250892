"""The delivery queue: the worker claims due notifications under a lease, renews or gives the
lease back, and settles each attempt (retry, deliver, or fail and alert), one transaction per
step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import utcnow
from socle.outbox import record_event
from socle_notify import events
from socle_notify.alerts import Alerts
from socle_notify.batches import Batches
from socle_notify.channels import Outcome
from socle_notify.messages import FINAL
from socle_notify.models import Notification

log = structlog.get_logger("socle_notify.notifications")


@dataclass(frozen=True)
class Claim:
    id: str
    lease_until: datetime


class Delivery(Alerts, Batches):
    async def claim(self, session: AsyncSession, limit: int) -> list[Claim]:
        """Take due notifications (and expired leases) for this worker; commit right after."""
        now = utcnow()
        lease_until = now + timedelta(seconds=self.settings.lease_seconds)
        query = (
            select(Notification.id)
            .where(_due(now))
            .order_by(Notification.next_attempt_at)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list((await session.execute(query)).scalars())
        if not ids:
            return []
        await session.execute(
            update(Notification)
            .where(Notification.id.in_(ids))
            .values(
                status="sending",
                lease_until=lease_until,
                attempts=Notification.attempts + 1,
                updated_at=now,
            )
        )
        return [Claim(i, lease_until) for i in ids]

    async def backlog(self, session: AsyncSession) -> int:
        """How many notifications are due now (a worker would claim them)."""
        count = await session.scalar(
            select(func.count()).select_from(Notification).where(_due(utcnow()))
        )
        return int(count or 0)

    async def load(self, session: AsyncSession, claim: Claim) -> Notification | None:
        return (
            await session.execute(select(Notification).where(Notification.id == claim.id))
        ).scalar_one_or_none()

    async def _owned(self, session: AsyncSession, claim: Claim) -> Notification | None:
        notification = (
            await session.execute(
                select(Notification).where(Notification.id == claim.id).with_for_update()
            )
        ).scalar_one_or_none()
        if (
            notification is None
            or notification.status != "sending"
            or notification.lease_until != claim.lease_until
        ):
            return None
        return notification

    async def renew(self, session: AsyncSession, claim: Claim) -> Claim | None:
        """Extend a lease this worker still holds (a send in progress); the new claim, or
        None when the lease was lost."""
        lease_until = utcnow() + timedelta(seconds=self.settings.lease_seconds)
        result = await session.execute(
            update(Notification)
            .where(
                Notification.id == claim.id,
                Notification.status == "sending",
                Notification.lease_until == claim.lease_until,
            )
            .values(lease_until=lease_until)
        )
        return Claim(claim.id, lease_until) if result.rowcount == 1 else None  # type: ignore[attr-defined]

    async def postpone(self, session: AsyncSession, claim: Claim, seconds: float) -> None:
        """Give a claimed notification back (rate limit reached); it keeps its attempts."""
        notification = await self._owned(session, claim)
        if notification is None:
            return
        notification.attempts -= 1
        notification.status = "created" if notification.attempts == 0 else "temporary_failure"
        notification.lease_until = None
        notification.next_attempt_at = utcnow() + timedelta(seconds=seconds)

    def backoff(self, attempts: int) -> float:
        s = self.settings
        return float(min(s.retry_base_seconds * 2 ** max(attempts - 1, 0), s.retry_max_seconds))

    async def settle(self, session: AsyncSession, claim: Claim, outcome: Outcome) -> str | None:
        """Record how an attempt went; returns the new status (None when the lease was lost)."""
        notification = await self._owned(session, claim)
        if notification is None:
            log.warning("notification_lease_lost", notification_id=claim.id)
            return None
        now = utcnow()
        notification.lease_until = None
        notification.updated_at = now
        if outcome.delivered:
            notification.status = "delivered"
            notification.sent_at = now
            notification.error = None
            await record_event(
                session,
                events.notification_delivered(notification),
                aggregate=f"notification:{notification.id}",
            )
        elif (
            outcome.status == "temporary_failure"
            and notification.attempts < self.settings.max_attempts
        ):
            notification.status = "temporary_failure"
            notification.error = (outcome.error or "")[:500]
            notification.next_attempt_at = now + timedelta(
                seconds=self.backoff(notification.attempts)
            )
        else:
            notification.status = "permanent_failure"
            notification.error = (outcome.error or "")[:500]
            await record_event(
                session,
                events.notification_failed(notification),
                aggregate=f"notification:{notification.id}",
            )
            if notification.source != "alert":
                await self.alert(
                    session,
                    notification.tenant,
                    kind=f"{notification.channel} notification",
                    item_id=notification.id,
                    reference=notification.reference,
                    attempts=notification.attempts,
                    error=notification.error,
                    path=f"/v1/notifications/{notification.id}",
                )
        if notification.status in FINAL:  # a sealed text has nothing left to do
            notification.sealed_body = notification.sealed_html = None
        await session.flush()
        if notification.batch_id and notification.status in FINAL:
            await self._maybe_complete_batch(session, notification.batch_id)
        return notification.status


def _due(now: datetime) -> ColumnElement[bool]:
    """Notifications to send now: due ones, and those whose sender's lease expired."""
    return or_(
        and_(
            Notification.status.in_(("created", "temporary_failure")),
            Notification.next_attempt_at <= now,
        ),
        and_(Notification.status == "sending", Notification.lease_until < now),
    )
