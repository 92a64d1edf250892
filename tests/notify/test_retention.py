"""Retention of notifications per commune: an admin sets the commune's retention; the purge
deletes the final notifications past it, keeps those within it, those not final yet, another
commune's (its default applies), and one under legal hold until the hold is lifted; an
erasure leaves a held notification as it is and erases it once the hold is lifted. Finished
webhook deliveries are deleted after their retention."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from socle.db import utcnow
from socle.privacy import ErasureRequest
from socle_notify import privacy, retention
from socle_notify.models import Notification, Subscription, WebhookAttempt, WebhookDelivery
from tests.support.notify import client_token


def _notification(tenant: str, age_days: int, status: str = "delivered") -> Notification:
    at = utcnow() - timedelta(days=age_days)
    return Notification(
        id=uuid.uuid4().hex,
        tenant=tenant,
        channel="email",
        status=status,
        recipient="anna@example.ch",
        language="fr",
        source="api",
        subject="Votre demande",
        body="Bonjour Anna",
        attempts=1,
        next_attempt_at=at,
        created_at=at,
        updated_at=at,
    )


async def test_the_purge_deletes_what_is_past_the_commune_s_retention(
    notify, admin, issuer, tenant
):
    async with notify(retention_purge_seconds=0) as client:
        app = client.app
        sender = {"Authorization": f"Bearer {client_token(issuer, tenant, ['notifications:send'])}"}
        refused = await client.put("/v1/retention", headers=sender, json={"days": {}})
        assert refused.status_code == 403
        unknown = await client.put("/v1/retention", headers=admin, json={"days": {"sms": 3}})
        assert unknown.status_code == 422
        assert unknown.headers["content-type"] == "application/problem+json"
        absurd = await client.put(
            "/v1/retention", headers=admin, json={"days": {"notifications": -1}}
        )
        assert absurd.status_code == 422
        before = await client.get("/v1/retention", headers=admin)
        assert before.json() == {"days": {}, "defaults": {"notifications": 365}}
        put = await client.put("/v1/retention", headers=admin, json={"days": {"notifications": 30}})
        assert put.status_code == 200, put.text
        assert (await client.get("/v1/retention", headers=admin)).json()["days"] == {
            "notifications": 30
        }

        other = f"{tenant}-other"
        rows = {
            "old": _notification(tenant, 40),
            "recent": _notification(tenant, 10),
            "old_queued": _notification(tenant, 40, status="queued"),
            "old_elsewhere": _notification(other, 40),
            "old_held": _notification(tenant, 40),
        }
        async with app.state.runtime.sessions() as session, session.begin():
            session.add_all(rows.values())
        held = rows["old_held"].id
        hold = await client.put(
            f"/v1/legal-holds/notifications/{held}", headers=admin, json={"reason": "case 12/2026"}
        )
        assert hold.status_code == 200, hold.text
        theirs = rows["old_elsewhere"].id
        assert (
            await client.put(
                f"/v1/legal-holds/notifications/{theirs}", headers=admin, json={"reason": "x"}
            )
        ).status_code == 404  # another commune's
        listed = await client.get("/v1/legal-holds", headers=admin)
        assert [h["record_id"] for h in listed.json()] == [held]
        settings = app.state.runtime.settings
        assert await retention.purge_once(app.state.runtime.sessions, settings) >= 1
        async with app.state.runtime.sessions() as session:
            left = {
                name
                for name, row in rows.items()
                if await session.get(Notification, row.id) is not None
            }
        assert left == {"recent", "old_queued", "old_elsewhere", "old_held"}
        # the hold lifted, the next run purges it
        released = await client.delete(f"/v1/legal-holds/notifications/{held}", headers=admin)
        assert released.status_code == 204
        assert await retention.purge_once(app.state.runtime.sessions, settings) >= 1
        async with app.state.runtime.sessions() as session:
            assert await session.get(Notification, held) is None


async def test_an_erasure_leaves_a_held_notification_as_it_is_until_the_hold_is_lifted(
    notify, admin, tenant
):
    async with notify(retention_purge_seconds=0) as client:
        sessions = client.app.state.runtime.sessions
        settings = client.app.state.runtime.settings
        rows = {"free": _notification(tenant, 1), "held": _notification(tenant, 1)}
        for row in rows.values():
            row.recipient_subject = "anna-subject"
        async with sessions() as session, session.begin():
            session.add_all(rows.values())
        held = rows["held"].id
        hold = await client.put(
            f"/v1/legal-holds/notifications/{held}", headers=admin, json={"reason": "case 12"}
        )
        assert hold.status_code == 200, hold.text
        request = ErasureRequest(erasure_id=uuid.uuid4().hex, tenant=tenant, user_id="anna-subject")
        async with sessions() as session, session.begin():
            outcome = await privacy.erase_person(session, request)
        assert outcome.erased["notification_contents"] == 1
        assert {k.reason: k.count for k in outcome.kept} == {"audit": 1, "legal_hold": 1}
        async with sessions() as session:
            free = await session.get(Notification, rows["free"].id)
            kept = await session.get(Notification, held)
        assert free.recipient == privacy.ERASED_ADDRESS and "Anna" not in free.body
        assert kept.recipient == "anna@example.ch" and kept.body == "Bonjour Anna"
        assert kept.recipient_subject == "anna-subject" and kept.erasure_requested_at
        await retention.purge_once(sessions, settings)  # still held: left as it is
        async with sessions() as session:
            assert (await session.get(Notification, held)).body == "Bonjour Anna"
        lifted = await client.delete(f"/v1/legal-holds/notifications/{held}", headers=admin)
        assert lifted.status_code == 204
        await retention.purge_once(sessions, settings)
        async with sessions() as session:
            erased = await session.get(Notification, held)
        assert erased.recipient == privacy.ERASED_ADDRESS and erased.subject is None
        assert erased.body == privacy.ERASED_TEXT and erased.status == "delivered"
        assert erased.recipient_subject.startswith("erased-")
        assert erased.erasure_requested_at is None


async def test_finished_webhook_deliveries_and_their_attempts_go_after_their_retention(
    notify, tenant
):
    async with notify(retention_purge_seconds=0, webhook_delivery_retention_days=30) as client:
        sessions = client.app.state.runtime.sessions
        now = utcnow()
        subscription = Subscription(
            id=uuid.uuid4().hex,
            tenant=tenant,
            event_types=["payment.succeeded"],
            callback_url="https://commune.example/hook",
            secret="whsec_test",
            created_at=now,
        )
        deliveries = {
            name: WebhookDelivery(
                id=uuid.uuid4().hex,
                tenant=tenant,
                subscription_id=subscription.id,
                event_id=uuid.uuid4().hex,
                event_type="payment.succeeded",
                payload={"data": {"payer_subject": "anna-subject"}},
                status=status,
                attempts=1,
                next_attempt_at=now - timedelta(days=age),
                created_at=now - timedelta(days=age),
            )
            for name, status, age in (
                ("old_delivered", "delivered", 40),
                ("old_dead", "dead", 40),
                ("old_pending", "pending", 40),  # still to be tried: kept
                ("recent", "delivered", 10),
            )
        }
        async with sessions() as session, session.begin():
            session.add(subscription)
            await session.flush()
            session.add_all(deliveries.values())
            await session.flush()
            session.add_all(
                WebhookAttempt(delivery_id=d.id, attempted_at=now, status_code=200, duration_ms=5)
                for d in deliveries.values()
            )
        settings = client.app.state.runtime.settings
        assert await retention.purge_webhook_deliveries(sessions, settings) == 2
        async with sessions() as session:
            left = {
                name
                for name, d in deliveries.items()
                if await session.get(WebhookDelivery, d.id) is not None
            }
            mine = [d.id for d in deliveries.values()]
            query = select(WebhookAttempt.delivery_id).where(WebhookAttempt.delivery_id.in_(mine))
            attempts = set((await session.execute(query)).scalars())
        assert left == {"old_pending", "recent"}
        assert attempts == {deliveries["old_pending"].id, deliveries["recent"].id}
        assert await retention.purge_webhook_deliveries(sessions, settings) == 0
