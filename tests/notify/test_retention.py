"""Retention of notifications per commune: an admin sets the commune's retention; the purge
deletes the final notifications past it, keeps those within it, those not final yet, another
commune's (its default applies), and one under legal hold until the hold is lifted."""

from __future__ import annotations

import uuid
from datetime import timedelta

from socle.db import utcnow
from socle_notify import retention
from socle_notify.models import Notification
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
