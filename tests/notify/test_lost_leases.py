"""A worker whose lease expired and was taken by another records nothing: only the holder of
the current lease settles the row (one outcome, one event, one attempt in the log)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from socle.db import utcnow
from socle.events import CloudEvent
from socle_dev.testing import eventually
from socle_notify.channels import DELIVERED
from socle_notify.leases import Lease
from socle_notify.messages import Prepared
from socle_notify.models import Notification, WebhookAttempt, WebhookDelivery
from socle_notify.schemas import SubscriptionCreate
from tests.support.notify import address


async def _expired(lease: Lease) -> None:
    async def past() -> bool:
        return utcnow() > lease.lease_until

    await eventually(past, "the first lease expired")


async def _claim_twice(runtime: Any, queue: Any) -> tuple[Lease, Lease, Any]:
    """The row claimed by a first worker, whose lease expires, then by a second."""
    async with runtime.sessions() as session, session.begin():
        [first] = await queue.claim(session, 10)
        row = (await queue.rows(session, [first]))[first.id]
    await _expired(first)
    async with runtime.sessions() as session, session.begin():
        [second] = await queue.claim(session, 10)
    assert second.id == first.id and second.lease_until != first.lease_until
    return first, second, row


async def test_a_mail_whose_lease_was_taken_over_is_settled_by_the_new_holder_only(
    notify, events, tenant
):
    async with notify(lease_seconds=0.2) as client:
        runtime = client.app.state.runtime
        domain = runtime.context
        await domain.worker.stop()  # the test plays both workers
        async with runtime.sessions() as session, session.begin():
            queued = await domain.notifications.enqueue(
                session,
                tenant,
                None,
                Prepared(address(tenant), "fr", "Objet", "Texte", None),
                channel="email",
                reference="R-lost",
                source="api",
                template_id=None,
            )
        first, second, row = await _claim_twice(runtime, domain.notifications.queue)

        async with runtime.sessions() as session, session.begin():
            assert await domain.notifications.settle(session, first, DELIVERED, row) is None
        async with runtime.sessions() as session:
            stale = await session.get(Notification, queued.id)
            assert stale is not None and stale.status == "sending"
            assert stale.lease_until == second.lease_until

        async with runtime.sessions() as session, session.begin():
            assert await domain.notifications.settle(session, second, DELIVERED, row) == "delivered"
        async with runtime.sessions() as session:
            done = await session.get(Notification, queued.id)
            assert done is not None and done.status == "delivered" and done.lease_until is None
            assert done.sent_at is not None
        [event] = await events.wait_for("notification.delivered")
        assert event["data"]["notification_id"] == queued.id
        assert event["data"]["reference"] == "R-lost"


async def test_a_webhook_whose_lease_was_taken_over_is_settled_by_the_new_holder_only(
    notify, endpoint, tenant
):
    async with notify(lease_seconds=0.2, webhook_timeout_seconds=0.05) as client:
        runtime = client.app.state.runtime
        domain = runtime.context
        await domain.worker.stop()  # the test plays both workers
        event = CloudEvent.new(
            service="payment", type="payment.succeeded", tenant=tenant, data={"payment_id": "p"}
        )
        async with runtime.sessions() as session, session.begin():
            body = SubscriptionCreate(callback_url=endpoint.url, event_types=["payment.*"])
            await domain.webhooks.subscribe(session, tenant, body)
            assert await domain.webhooks.fan_out(session, event) == 1
        first, second, _ = await _claim_twice(runtime, domain.webhooks.queue)

        async with runtime.sessions() as session, session.begin():
            assert await domain.webhooks.settle(session, first, 204, None, 3) is None
        async with runtime.sessions() as session, session.begin():
            assert await domain.webhooks.settle(session, second, 204, None, 4) == "delivered"
        async with runtime.sessions() as session:
            delivery = await session.get(WebhookDelivery, first.id)
            assert delivery is not None and delivery.status == "delivered"
            assert delivery.payload["id"] == event.id and delivery.attempts == 2
            attempts = (
                await session.execute(
                    select(WebhookAttempt.duration_ms).where(WebhookAttempt.delivery_id == first.id)
                )
            ).all()
        assert [a.duration_ms for a in attempts] == [4]  # the lost lease left no attempt
