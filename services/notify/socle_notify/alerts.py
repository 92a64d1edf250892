"""Alerts: tell a tenant's operations address about a final failure, and keep a message that
could not even be prepared as a failed notification."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import utcnow
from socle.outbox import record_event
from socle.problems import Unprocessable
from socle_notify import events
from socle_notify.common import new_id
from socle_notify.contacts import Contacts
from socle_notify.messages import Messages
from socle_notify.models import Notification

log = structlog.get_logger("socle_notify.notifications")


class Alerts(Messages):
    async def record_failure(
        self,
        session: AsyncSession,
        tenant: str,
        *,
        channel: str,
        template_id: str | None,
        reference: str | None,
        source: str,
        error: str,
        language: str = "fr",
    ) -> Notification:
        """A message that could not even be prepared (from an event): kept, reported, alerted."""
        now = utcnow()
        notification = Notification(
            id=new_id(),
            tenant=tenant,
            channel=channel,
            status="permanent_failure",
            recipient="",
            template_id=template_id,
            template_version=None,
            language=language,
            reference=reference,
            source=source,
            subject=None,
            body="",
            html=None,
            batch_id=None,
            attempts=0,
            next_attempt_at=now,
            lease_until=None,
            error=error[:500],
            created_at=now,
            updated_at=now,
            sent_at=None,
        )
        session.add(notification)
        await session.flush()
        await record_event(
            session,
            events.notification_failed(notification),
            aggregate=f"notification:{notification.id}",
        )
        await self.alert(
            session,
            tenant,
            kind="notification",
            item_id=notification.id,
            reference=reference,
            attempts=0,
            error=error,
            path=f"/v1/notifications/{notification.id}",
        )
        return notification

    async def alert(
        self,
        session: AsyncSession,
        tenant: str,
        *,
        kind: str,
        item_id: str,
        reference: str | None,
        attempts: int,
        error: str | None,
        path: str,
    ) -> None:
        """Mail the tenant's operations contacts about a final failure (if any is set)."""
        addresses = await Contacts(self.settings).of(session, tenant)
        if not addresses:
            log.warning("final_failure_without_operations_address", tenant=tenant, kind=kind)
            return
        values = {
            "kind": kind,
            "tenant": tenant,
            "attempts": attempts,
            "id": item_id,
            "reference": reference or "-",
            "error": error or "-",
            "path": path,
        }
        for address in addresses:
            try:
                prepared = self.builtin("alert.final_failure", address, values, "en")
            except Unprocessable:
                log.error("operations_address_invalid", tenant=tenant)
                continue
            await self.enqueue(
                session,
                tenant,
                None,
                prepared,
                channel="email",
                reference=item_id,
                source="alert",
                template_id="builtin:alert.final_failure",
            )
