"""The delivery of notifications: the worker claims due notifications from their leased queue
(:mod:`socle_notify.leases`), and settles each attempt (retry, deliver, or fail and alert), one
transaction per step."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import utcnow
from socle.outbox import record_event
from socle_notify import events
from socle_notify.alerts import Alerts
from socle_notify.batches import Batches
from socle_notify.channels import Outcome
from socle_notify.leases import Lease, LeasedQueue
from socle_notify.messages import FINAL
from socle_notify.models import Notification
from socle_notify.settings import NotifySettings
from socle_notify.templates import Templates

log = structlog.get_logger("socle_notify.notifications")


class Delivery(Alerts, Batches):
    def __init__(self, settings: NotifySettings, templates: Templates) -> None:
        super().__init__(settings, templates)
        self.queue = LeasedQueue(
            Notification,
            lease_seconds=settings.lease_seconds,
            fresh="created",
            retry="temporary_failure",
            touched="updated_at",
        )

    def backoff(self, attempts: int) -> float:
        s = self.settings
        return float(min(s.retry_base_seconds * 2 ** max(attempts - 1, 0), s.retry_max_seconds))

    async def settle(
        self,
        session: AsyncSession,
        claim: Lease,
        outcome: Outcome,
        sent: Notification | None = None,
    ) -> str | None:
        """Record how an attempt went; returns the new status (None when the lease was lost).
        ``sent``: the row as claimed, for the usual case (delivered, in no batch) recorded in
        two statements."""
        if outcome.delivered and sent is not None and sent.batch_id is None:
            now = utcnow()
            if not await self.queue.finish(
                session,
                claim,
                status="delivered",
                sent_at=now,
                updated_at=now,
                error=None,
                sealed_body=None,  # a sealed text has nothing left to do
                sealed_html=None,
            ):
                log.warning("notification_lease_lost", notification_id=claim.id)
                return None
            # the claimed row's event fields do not change while it is leased
            await record_event(
                session, events.notification_delivered(sent), aggregate=f"notification:{sent.id}"
            )
            return "delivered"
        notification = await self.queue.held(session, claim)
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
