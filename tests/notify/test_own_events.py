"""notify's own events (``notification.delivered`` ...): delivered to the subscriptions that want
them, and otherwise taken from the bus without a write."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from socle.db import inbox_table
from socle_dev.events import EventRecorder
from socle_dev.testing import eventually
from tests.support.notify import address, send_one


async def _recorded(runtime: Any, consumer: str) -> int:
    async with runtime.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(inbox_table).where(inbox_table.c.consumer == consumer)
        )
        return int(count or 0)


async def test_own_event_nobody_wants_is_taken_without_a_record_then_a_subscriber_gets_the_next(
    notify, admin, sender, settings_for, private_nats, endpoint, tenant
):
    # a NATS server of its own: its consumer has no other test's events pending
    consumer = settings_for().consumer_name
    async with (
        EventRecorder(private_nats.url, tenant=tenant) as events,
        notify(nats_url=private_nats.url) as client,
    ):
        runtime = client.app.state.runtime
        before = await _recorded(runtime, consumer)
        first = await send_one(client, admin, sender, address(tenant))
        [event] = await events.wait_for("notification.delivered")
        assert event["data"]["notification_id"] == first

        async def taken() -> bool:
            info = await runtime.bus.js.consumer_info("SOCLE", consumer)
            return info.num_pending == 0 and info.num_ack_pending == 0

        await eventually(taken, "the event taken and acknowledged by notify's consumer")
        assert await _recorded(runtime, consumer) == before  # no write for it

        # a subscription made afterwards is seen at once: the next mail's event reaches it
        subscription = await client.post(
            "/v1/subscriptions",
            json={"callback_url": endpoint.url, "event_types": ["notification.*"]},
            headers=admin,
        )
        assert subscription.status_code == 201, subscription.text
        secret = subscription.json()["secret"]
        second = await send_one(client, admin, sender, address(tenant, "bruno"))

        async def posted() -> list[Any]:
            return endpoint.requests

        [request] = await eventually(posted, "the webhook of the second mail's event")
        payload = Webhook(secret).verify(request.body, request.headers)
        assert payload["type"] == "notification.delivered"
        assert payload["data"]["notification_id"] == second
        assert await _recorded(runtime, consumer) == before + 1  # exactly once, as before
