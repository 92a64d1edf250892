"""Webhook subscriptions of commune systems, signed deliveries (Standard Webhooks), retries
with exponential backoff, a dead-letter list an operator replays, every attempt recorded."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import structlog
from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from socle.db import utcnow
from socle.events import CloudEvent
from socle.outbox import record_event
from socle_notify import events
from socle_notify.callbacks import check_callback_url, check_secret, new_secret
from socle_notify.common import matches, new_id
from socle_notify.errors import (
    DeliveryNotDead,
    DeliveryNotFound,
    InvalidCallback,
    SubscriptionNotFound,
)
from socle_notify.event_types import check_event_types
from socle_notify.leases import Lease, LeasedQueue
from socle_notify.models import Subscription, WebhookAttempt, WebhookDelivery
from socle_notify.notifications import Notifications
from socle_notify.schemas import SubscriptionCreate
from socle_notify.sealing import without_secrets
from socle_notify.settings import NotifySettings

log = structlog.get_logger("socle_notify.webhooks")

# built once, each row its parameters (Core: no unit-of-work bookkeeping per row)
_NEW_DELIVERY = insert(cast(Table, WebhookDelivery.__table__))
_NEW_ATTEMPT = insert(cast(Table, WebhookAttempt.__table__))


@dataclass
class DeliveryView:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


class Webhooks:
    def __init__(self, settings: NotifySettings, notifications: Notifications) -> None:
        self.settings = settings
        self.notifications = notifications
        self._http: httpx.AsyncClient | None = None
        self.queue = LeasedQueue(
            WebhookDelivery, lease_seconds=self.lease_seconds, fresh="pending", retry="pending"
        )

    @property
    def http(self) -> httpx.AsyncClient:
        """One client for every delivery (its connection pool and TLS context are built
        once, not per delivery); closed by :meth:`close` at shutdown."""
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self.settings.webhook_timeout_seconds, follow_redirects=False
            )
        return self._http

    async def close(self) -> None:
        client, self._http = self._http, None
        if client is not None:
            await client.aclose()

    # -- subscriptions -----------------------------------------------------------------

    async def subscribe(
        self, session: AsyncSession, tenant: str, body: SubscriptionCreate
    ) -> Subscription:
        check_event_types(body.event_types)
        await check_callback_url(body.callback_url, self.settings)
        secret = check_secret(body.secret) if body.secret else new_secret()
        subscription = Subscription(
            id=new_id(),
            tenant=tenant,
            event_types=sorted(set(body.event_types)),
            callback_url=body.callback_url,
            secret=secret,
            description=body.description,
            created_at=utcnow(),
        )
        session.add(subscription)
        await session.flush()
        return subscription

    async def subscriptions(self, session: AsyncSession, tenant: str) -> list[Subscription]:
        query = select(Subscription).where(Subscription.tenant == tenant)
        return list((await session.execute(query.order_by(Subscription.id))).scalars())

    async def subscription(
        self,
        session: AsyncSession,
        tenant: str,
        subscription_id: str,
        include_deleted: bool = False,
    ) -> Subscription:
        found = (
            await session.execute(
                select(Subscription).where(
                    Subscription.id == subscription_id, Subscription.tenant == tenant
                )
            )
        ).scalar_one_or_none()
        if found is None or (not found.callback_url and not include_deleted):
            raise SubscriptionNotFound(f"No subscription {subscription_id} in this tenant.")
        return found

    async def unsubscribe(self, session: AsyncSession, tenant: str, subscription_id: str) -> None:
        subscription = await self.subscription(session, tenant, subscription_id)
        await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.subscription_id == subscription.id,
                WebhookDelivery.status.in_(("pending", "sending")),
            )
            .values(status="dead", last_error="subscription-deleted")
        )
        subscription.event_types = []
        subscription.callback_url = ""
        subscription.description = "deleted"
        await session.flush()

    # -- fan-out from events -----------------------------------------------------------

    @staticmethod
    async def _wanting(session: AsyncSession, event: CloudEvent) -> list[str]:
        """The ids of the event's tenant's subscriptions that want it."""
        subs = await session.execute(  # the columns it needs, not whole rows
            select(Subscription.id, Subscription.event_types).where(
                Subscription.tenant == event.tenant
            )
        )
        return [
            sub.id for sub in subs.all() if any(matches(p, event.type) for p in sub.event_types)
        ]

    async def wanted(self, session: AsyncSession, event: CloudEvent) -> bool:
        """Whether a subscription of the event's tenant wants it (reads only)."""
        return bool(await self._wanting(session, event))

    async def fan_out(self, session: AsyncSession, event: CloudEvent) -> int:
        """Queue one delivery per subscription of the event's tenant that wants it."""
        wanting = await self._wanting(session, event)
        now = utcnow()
        # A secret link (password reset, verification) goes to its owner's mailbox only.
        payload: dict[str, Any] = without_secrets(event.type, json.loads(event.to_bytes()))
        rows = [
            {
                "id": new_id(),
                "tenant": event.tenant,
                "subscription_id": subscription_id,
                "event_id": event.id,
                "event_type": event.type,
                "payload": payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "lease_until": None,
                "last_error": None,
                "created_at": now,
                "delivered_at": None,
            }
            for subscription_id in wanting
        ]
        if rows:
            await session.execute(_NEW_DELIVERY, rows)
        return len(rows)

    # -- deliveries: reading and replay ------------------------------------------------

    async def deliveries(
        self,
        session: AsyncSession,
        tenant: str,
        *,
        status: str | None,
        subscription_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[WebhookDelivery], str | None]:
        query = select(WebhookDelivery).where(WebhookDelivery.tenant == tenant)
        if status:
            query = query.where(WebhookDelivery.status == status)
        if subscription_id:
            query = query.where(WebhookDelivery.subscription_id == subscription_id)
        if cursor:
            query = query.where(WebhookDelivery.id < cursor)
        rows = list(
            (
                await session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1))
            ).scalars()
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (rows[-1].id if more and rows else None)

    async def delivery(self, session: AsyncSession, tenant: str, delivery_id: str) -> DeliveryView:
        found = (
            await session.execute(
                select(WebhookDelivery).where(
                    WebhookDelivery.id == delivery_id, WebhookDelivery.tenant == tenant
                )
            )
        ).scalar_one_or_none()
        if found is None:
            raise DeliveryNotFound(f"No webhook delivery {delivery_id} in this tenant.")
        attempts = list(
            (
                await session.execute(
                    select(WebhookAttempt)
                    .where(WebhookAttempt.delivery_id == found.id)
                    .order_by(WebhookAttempt.id)
                )
            ).scalars()
        )
        return DeliveryView(found, attempts)

    async def replay(self, session: AsyncSession, tenant: str, delivery_id: str) -> DeliveryView:
        view = await self.delivery(session, tenant, delivery_id)
        delivery = view.delivery
        if delivery.status != "dead":
            raise DeliveryNotDead(
                f"Delivery {delivery_id} is {delivery.status}; only dead deliveries are replayed."
            )
        subscription = await self.subscription(
            session, tenant, delivery.subscription_id, include_deleted=True
        )
        if not subscription.callback_url:
            raise DeliveryNotDead(
                "The subscription of this delivery was deleted; it cannot be replayed."
            )
        delivery.status = "pending"
        delivery.attempts = 0
        delivery.next_attempt_at = utcnow()
        delivery.last_error = None
        await session.flush()
        return view

    # -- the worker's side -------------------------------------------------------------

    @property
    def lease_seconds(self) -> float:
        """A delivery's lease: long enough for a POST that runs into its timeout."""
        return float(max(self.settings.lease_seconds, self.settings.webhook_timeout_seconds * 2))

    async def load(
        self, session: AsyncSession, claims: list[Lease]
    ) -> dict[str, tuple[WebhookDelivery, Subscription]]:
        """The claimed deliveries with their subscriptions, by delivery id."""
        if not claims:
            return {}
        rows = await session.execute(
            select(WebhookDelivery, Subscription)
            .join(Subscription, Subscription.id == WebhookDelivery.subscription_id)
            .where(WebhookDelivery.id.in_([claim.id for claim in claims]))
        )
        return {delivery.id: (delivery, subscription) for delivery, subscription in rows.tuples()}

    async def post(
        self, delivery: WebhookDelivery, subscription: Subscription
    ) -> tuple[int | None, str | None, int]:
        """One signed POST; returns (status code, error, duration in ms)."""
        started = time.monotonic()
        try:
            await check_callback_url(subscription.callback_url, self.settings)
        except InvalidCallback as exc:
            return None, f"refused-target: {exc.detail}"[:500], 0
        body = json.dumps(delivery.payload, separators=(",", ":"))
        timestamp = datetime.now(UTC).replace(microsecond=0)
        signature = Webhook(subscription.secret).sign(delivery.id, timestamp, body)
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": signature,
            "user-agent": "socle-notify-webhooks/1",
        }
        try:
            response = await self.http.post(
                subscription.callback_url, content=body.encode(), headers=headers
            )
        except httpx.TimeoutException:
            return None, "timeout", int((time.monotonic() - started) * 1000)
        except httpx.HTTPError as exc:
            return (
                None,
                f"unreachable: {exc.__class__.__name__}",
                int((time.monotonic() - started) * 1000),
            )
        elapsed = int((time.monotonic() - started) * 1000)
        if response.is_success:
            return response.status_code, None, elapsed
        return response.status_code, f"http-{response.status_code}", elapsed

    def backoff(self, attempts: int) -> float:
        s = self.settings
        return float(min(s.retry_base_seconds * 2 ** max(attempts - 1, 0), s.retry_max_seconds))

    async def settle(
        self,
        session: AsyncSession,
        claim: Lease,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
    ) -> str | None:
        now = utcnow()
        attempt = {
            "delivery_id": claim.id,
            "attempted_at": now,
            "status_code": status_code,
            "error": error,
            "duration_ms": duration_ms,
        }
        if error is None:  # the usual case, in two statements
            if not await self.queue.finish(
                session, claim, status="delivered", delivered_at=now, last_error=None
            ):
                log.warning("webhook_lease_lost", delivery_id=claim.id)
                return None
            await session.execute(_NEW_ATTEMPT, attempt)
            return "delivered"
        delivery = await self.queue.held(session, claim)
        if delivery is None:
            log.warning("webhook_lease_lost", delivery_id=claim.id)
            return None
        session.add(WebhookAttempt(**attempt))
        delivery.lease_until = None
        if delivery.attempts < self.settings.webhook_max_attempts:
            delivery.status = "pending"
            delivery.last_error = error
            delivery.next_attempt_at = now + timedelta(seconds=self.backoff(delivery.attempts))
        else:
            delivery.status = "dead"
            delivery.last_error = error
            await record_event(
                session,
                events.webhook_failed(delivery),
                aggregate=f"webhook-delivery:{delivery.id}",
            )
            await self.notifications.alert(
                session,
                delivery.tenant,
                kind="webhook delivery",
                item_id=delivery.id,
                reference=delivery.event_type,
                attempts=delivery.attempts,
                error=error,
                path=f"/v1/webhook-deliveries/{delivery.id}",
            )
        await session.flush()
        return delivery.status
