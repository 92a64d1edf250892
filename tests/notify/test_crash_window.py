"""E-mail after a crash: the lease is renewed while a send is in progress, and an outcome that
cannot be recorded (the database is down) is recorded once the database is back, so the mail
is handed to the server once."""

from __future__ import annotations

import asyncio

from socle.db import utcnow
from socle_dev.localinfra import SmtpSink, free_port
from socle_dev.testing import eventually
from tests.support.infra import PrivatePostgres, create_database, migrate
from tests.support.notify import address, notification_row, send_one


async def test_the_lease_is_renewed_while_a_slow_server_takes_the_mail(
    notify, admin, sender, tenant
):
    sink = SmtpSink(free_port())
    sink.start()
    sink.flowing.clear()
    to = address(tenant)
    try:
        async with notify(lease_seconds=0.6, smtp_port=sink.port) as client:
            runtime = client.app.state.runtime
            domain = runtime.context
            notification_id = await send_one(client, admin, sender, to)
            await eventually(lambda: _true(sink.held == 1), "the mail held by the server")
            first = (await notification_row(runtime, notification_id)).lease_until
            assert first is not None

            async def renewed_past_the_first_lease() -> bool:
                row = await notification_row(runtime, notification_id)
                return (
                    utcnow() > first and row.lease_until is not None and row.lease_until > utcnow()
                )

            await eventually(renewed_past_the_first_lease, "a renewed lease")
            async with runtime.sessions() as session, session.begin():
                taken = await domain.notifications.queue.claim(session, 10)
            assert notification_id not in [c.id for c in taken]  # another worker keeps off

            sink.flowing.set()

            async def delivered() -> bool:
                return (await notification_row(runtime, notification_id)).status == "delivered"

            await eventually(delivered, "the mail delivered")
            assert (await notification_row(runtime, notification_id)).attempts == 1
        assert len(sink.to(to)) == 1
    finally:
        sink.flowing.set()
        sink.stop()


async def test_a_sent_mail_is_recorded_after_a_database_outage_and_not_sent_again(
    tmp_path, notify, admin, sender, tenant
):
    sink = SmtpSink(free_port())
    sink.start()
    sink.flowing.clear()
    to = address(tenant)
    postgres = await asyncio.to_thread(PrivatePostgres, tmp_path / "pg")
    try:
        url = create_database(postgres.url, "notify")
        migrate(url, "notify")
        async with notify(database_url=url, smtp_port=sink.port) as client:
            runtime = client.app.state.runtime
            notification_id = await send_one(client, admin, sender, to)
            await eventually(lambda: _true(sink.held == 1), "the mail held by the server")
            await asyncio.to_thread(postgres.stop)
            sink.flowing.set()  # the server takes the mail while the database is down
            await eventually(lambda: _true(len(sink.to(to)) == 1), "the mail received")
            await asyncio.to_thread(postgres.start)

            async def delivered() -> bool:
                return (await notification_row(runtime, notification_id)).status == "delivered"

            await eventually(delivered, "the outcome recorded", within=30)
            assert (await notification_row(runtime, notification_id)).attempts == 1
        assert len(sink.to(to)) == 1
    finally:
        sink.flowing.set()
        sink.stop()
        await asyncio.to_thread(postgres.close)


async def _true(value: bool) -> bool:
    return value
