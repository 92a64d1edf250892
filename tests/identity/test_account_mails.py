"""The account mails' address and link leave identity only when notify asks, for an event of
identity's own, in the asker's tenant, while the link is valid; neither is in the outbox."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from socle.account_mails import AccountMailGone
from socle.db import outbox_table
from socle_dev.events import EventRecorder
from tests.support.identity import ask_password_reset, code_flow_client


async def ask_reset(identity, commune, email: str) -> None:
    client_id, _ = await code_flow_client(commune)
    async with identity.http() as browser:
        asked = await ask_password_reset(browser, client_id, email)
        assert asked.status_code == 200


async def outbox_payload(identity, event_id: str) -> bytes:
    async with identity.sessions() as session:
        return bytes(
            await session.scalar(
                select(outbox_table.c.payload).where(outbox_table.c.event_id == event_id)
            )
        )


async def test_the_outbox_keeps_no_address_and_no_link(identity, commune, nats_server):
    email = f"anna.{commune.tenant}@example.ch"
    await commune.add_user(email)
    async with EventRecorder(nats_server.url, subject=f"socle.{commune.tenant}.user.>") as events:
        await ask_reset(identity, commune, email)
        event = await events.first("user.password_reset_requested")
        stored = await outbox_payload(identity, event["id"])
        assert email.encode() not in stored and b"token" not in stored
        mail = await events.account_mail(event)
        assert mail["email"] == email and "/password-reset/confirm?token=" in mail["reset_url"]


async def test_another_tenant_or_an_unknown_event_gets_nothing(identity, commune, nats_server):
    email = f"anna.{commune.tenant}@example.ch"
    await commune.add_user(email)
    async with EventRecorder(nats_server.url, subject=f"socle.{commune.tenant}.user.>") as events:
        await ask_reset(identity, commune, email)
        event = await events.first("user.password_reset_requested")
        with pytest.raises(AccountMailGone):
            await events.account_mail({**event, "tenant": "another-commune"})
        with pytest.raises(AccountMailGone):
            await events.account_mail({**event, "id": "not-an-event-of-identity"})
        with pytest.raises(AccountMailGone):  # only the account mails: no other event's data
            await events.account_mail({**event, "type": "user.registered", "id": "x"})


async def test_an_expired_link_is_not_made_again(identity, commune, nats_server):
    email = f"anna.{commune.tenant}@example.ch"
    await commune.add_user(email)
    async with EventRecorder(nats_server.url, subject=f"socle.{commune.tenant}.user.>") as events:
        await ask_reset(identity, commune, email)
        event = await events.first("user.password_reset_requested")
        stored = json.loads(await outbox_payload(identity, event["id"]))
        sent = datetime.fromisoformat(stored["time"])
        stored["time"] = (sent - timedelta(hours=2)).isoformat()  # reset links live an hour
        async with identity.sessions() as session, session.begin():
            await session.execute(
                update(outbox_table)
                .where(outbox_table.c.event_id == event["id"])
                .values(payload=json.dumps(stored).encode())
            )
        with pytest.raises(AccountMailGone):
            await events.account_mail(event)
