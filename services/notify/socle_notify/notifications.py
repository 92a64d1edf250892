"""Notifications: the API's use cases (send, read, list), on top of the parts they are made of.

Preparing a message lives in :mod:`socle_notify.messages`, alerts in :mod:`socle_notify.alerts`,
batches in :mod:`socle_notify.batches` and the worker's side in :mod:`socle_notify.delivery`;
:class:`Notifications` brings them together as the one service the app, rules, webhooks and the
worker use.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from socle_notify.batches import BatchView
from socle_notify.delivery import Delivery
from socle_notify.errors import NotificationNotFound, WrongChannel
from socle_notify.messages import FINAL, LANGUAGES, PENDING, Prepared
from socle_notify.models import Notification
from socle_notify.schemas import SendIn

__all__ = [
    "FINAL",
    "LANGUAGES",
    "PENDING",
    "BatchView",
    "Notifications",
    "Prepared",
]


class Notifications(Delivery):
    # -- accepting ---------------------------------------------------------------------

    async def send(
        self, session: AsyncSession, tenant: str, channel: str, body: SendIn
    ) -> Notification:
        view = await self.templates.view(session, tenant, body.template_id)
        if view.template.channel != channel:
            raise WrongChannel(
                f"Template {body.template_id} is an {view.template.channel} template; send it "
                f"with POST /v1/notifications/{view.template.channel}."
            )
        prepared = self.prepare(view, body.to, body.personalisation, body.language)
        row = self._row(
            tenant,
            view,
            prepared,
            channel=channel,
            reference=body.reference,
            source="api",
            template_id=view.template.id,
            recipient_subject=body.recipient_subject,
        )
        return await self.insert(session, row)

    # -- reading -----------------------------------------------------------------------

    async def get(
        self,
        session: AsyncSession,
        tenant: str,
        notification_id: str,
        *,
        owner: str | None = None,
    ) -> Notification:
        """The notification; ``owner`` (a person's subject) reads only its own: another
        answers 404, exactly as one that does not exist."""
        query = select(Notification).where(
            Notification.id == notification_id, Notification.tenant == tenant
        )
        if owner is not None:
            query = query.where(Notification.recipient_subject == owner)
        notification = (await session.execute(query)).scalar_one_or_none()
        if notification is None:
            raise NotificationNotFound(f"No notification {notification_id} in this tenant.")
        return notification

    async def page(
        self,
        session: AsyncSession,
        tenant: str,
        *,
        limit: int,
        cursor: str | None,
        filters: dict[str, str | None],
        owner: str | None = None,
    ) -> tuple[list[Notification], str | None]:
        query = select(Notification).where(Notification.tenant == tenant)
        if owner is not None:
            query = query.where(Notification.recipient_subject == owner)
        columns = {
            "status": Notification.status,
            "channel": Notification.channel,
            "reference": Notification.reference,
            "template_id": Notification.template_id,
            "batch_id": Notification.batch_id,
        }
        for name, value in filters.items():
            if value is not None:
                query = query.where(columns[name] == value)
        if cursor:
            query = query.where(Notification.id < cursor)
        rows = list(
            (
                await session.execute(query.order_by(Notification.id.desc()).limit(limit + 1))
            ).scalars()
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (rows[-1].id if more and rows else None)
