"""notify's worker under outages: the mail server unreachable is told once (and its return
once) and counted; a webhook delivery's lease is renewed while its POST is in progress; the
queue's backlog is on /metrics."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from structlog.testing import capture_logs

from socle_dev.localinfra import SmtpSink, free_port
from socle_dev.testing import eventually
from socle_notify.models import WebhookDelivery
from tests.support.notify import address, decision, notification_row, send_one


def _events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]


async def test_a_mail_server_outage_is_told_once_counted_and_its_return_told_once(
    notify, admin, sender, tenant
):
    port = free_port()  # nothing listens there yet
    to = address(tenant)
    sink = SmtpSink(port)
    try:
        async with notify(smtp_port=port, retry_base_seconds=0.2, max_attempts=50) as client:
            with capture_logs() as logs:  # inside: the app's start configures the logging
                runtime = client.app.state.runtime
                ids = [await send_one(client, admin, sender, to) for _ in range(3)]

                async def failed_twice() -> bool:
                    rows = [await notification_row(runtime, i) for i in ids]
                    # an attempt counts once its outcome is recorded (a claim counts it early)
                    return sum(r.attempts - (r.status == "sending") for r in rows) >= 6

                await eventually(failed_twice, "several sends refused by the closed port")
                metrics = (await client.get("/metrics")).text
                assert 'dependency="smtp"' in metrics
                failures = [
                    line
                    for line in metrics.splitlines()
                    if line.startswith("dependency_failures_total") and 'dependency="smtp"' in line
                ]
                assert float(failures[0].rsplit(" ", 1)[1]) >= 6

                sink.start()

                async def all_delivered() -> bool:
                    rows = [await notification_row(runtime, i) for i in ids]
                    return all(r.status == "delivered" for r in rows)

                await eventually(all_delivered, "the mails delivered once the server is back")
        assert len(_events(logs, "smtp_unavailable")) == 1
        assert len(_events(logs, "smtp_recovered")) == 1
        assert len(sink.to(to)) == 3
    finally:
        sink.stop()


async def test_a_webhook_lease_is_renewed_while_the_receiver_takes_its_time(
    notify, admin, bus, endpoint, tenant
):
    endpoint.delay = 2.5  # within the timeout, longer than a third of the lease (6 s)
    async with notify(lease_seconds=0.3, webhook_timeout_seconds=3.0) as client:
        runtime = client.app.state.runtime
        domain = runtime.context
        created = await client.post(
            "/v1/subscriptions",
            json={"callback_url": endpoint.url, "event_types": ["document.*"]},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        ours = select(WebhookDelivery).where(
            WebhookDelivery.subscription_id == created.json()["id"]
        )
        await bus.publish_event(decision(tenant))

        async def sending() -> WebhookDelivery | None:
            async with runtime.sessions() as session:
                row = (await session.execute(ours)).scalar_one_or_none()
            return row if row is not None and row.status == "sending" else None

        in_progress = await eventually(sending, "the delivery in progress")
        first = in_progress.lease_until

        async def renewed() -> bool:
            row = await sending()
            return row is not None and row.lease_until > first

        await eventually(renewed, "the delivery's lease renewed during the POST")
        async with runtime.sessions() as session, session.begin():
            taken = await domain.webhooks.queue.claim(session, 10)
        assert in_progress.id not in [c.id for c in taken]  # another worker keeps off

        async def delivered() -> WebhookDelivery | None:
            async with runtime.sessions() as session:
                row = (await session.execute(ours)).scalar_one_or_none()
            return row if row is not None and row.status == "delivered" else None

        row = await eventually(delivered, "the delivery recorded", within=30)
        assert row.attempts == 1
        assert len(endpoint.requests) == 1


async def test_the_delivery_queue_backlog_is_on_metrics(notify, admin, sender, tenant):
    sink = SmtpSink(free_port())
    sink.start()
    sink.flowing.clear()  # the first mail is held: the others wait in the queue
    to = address(tenant)
    try:
        async with notify(smtp_port=sink.port, worker_concurrency=1, worker_batch=1) as client:
            for _ in range(4):
                await send_one(client, admin, sender, to)

            async def backlog() -> float:
                for line in (await client.get("/metrics")).text.splitlines():
                    if (
                        line.startswith("background_backlog_items")
                        and "notify_notifications" in line
                    ):
                        return float(line.rsplit(" ", 1)[1])
                return 0.0

            assert await eventually(backlog, "the backlog reported") >= 1
            sink.flowing.set()

            async def all_received() -> bool:
                return len(sink.to(to)) == 4

            await eventually(all_received, "the queue drained")
            assert await backlog() == 0
    finally:
        sink.flowing.set()
        sink.stop()
