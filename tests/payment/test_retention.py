"""Retention of payments per commune: an admin (``payments:admin``) sets how long payer
data is kept; the purge pseudonymises the payments past it (amounts and reference kept,
e-mail, subject and metadata gone), keeps the others as they are, and another commune's
payments follow the default (10 years); a payment under legal hold is left as it is, by
the purge and by an erasure of its payer, until the hold is lifted."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update

from socle.db import utcnow
from socle.privacy import ErasureRequest
from socle_payment import privacy, retention
from socle_payment.models import Payment
from tests.support.payment import service


async def _payment(client, headers, email: str) -> str:
    answer = await client.post(
        "/v1/payments",
        headers=headers,
        json={
            "amount": 5000,
            "currency": "CHF",
            "reference": f"dog-{uuid.uuid4().hex[:8]}",
            "description": "Dog licence",
            "return_url": "https://commune.example/back",
            "provider": "sandbox",
            "payer_email": email,
            "payer_subject": "anna-subject",
            "metadata": {"dog": "Rex"},
        },
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def test_the_purge_pseudonymises_payments_past_the_commune_s_retention(
    settings_for, auth, tenant
):
    admin = auth(scopes=["payments:admin"], roles=("admin",))
    async with service(settings_for(retention_purge_seconds=0)) as (client, app):
        writer = auth()
        refused = await client.put("/v1/retention", headers=writer, json={"days": {}})
        assert refused.status_code == 403
        shown = await client.get("/v1/retention", headers=admin)
        assert shown.status_code == 200, shown.text
        assert shown.json()["defaults"] == {"payments": 3650}
        unknown = await client.put("/v1/retention", headers=admin, json={"days": {"refunds": 5}})
        assert unknown.status_code == 422
        put = await client.put("/v1/retention", headers=admin, json={"days": {"payments": 365}})
        assert put.status_code == 200, put.text

        old = await _payment(client, writer, "anna@example.ch")
        recent = await _payment(client, writer, "anna@example.ch")
        other_tenant = f"{tenant}-other"
        elsewhere = await _payment(client, auth(for_tenant=other_tenant), "bob@example.ch")
        held = await _payment(client, writer, "anna@example.ch")
        hold = await client.put(
            f"/v1/legal-holds/payments/{held}", headers=admin, json={"reason": "case 12/2026"}
        )
        assert hold.status_code == 200, hold.text
        refused = await client.put(
            f"/v1/legal-holds/payments/{held}", headers=writer, json={"reason": "x"}
        )
        assert refused.status_code == 403
        sessions = app.state.runtime.sessions
        async with sessions() as session, session.begin():
            await session.execute(
                update(Payment)
                .where(Payment.id.in_([old, elsewhere, held]))
                .values(created_at=utcnow() - timedelta(days=400))
            )
        assert await retention.purge_once(sessions, app.state.runtime.settings) >= 1
        async with sessions() as session:
            gone = await session.get(Payment, old)
            kept = await session.get(Payment, recent)
            theirs = await session.get(Payment, elsewhere)
            kept_held = await session.get(Payment, held)
        assert gone.amount == 5000 and gone.reference.startswith("dog-")
        assert gone.payer_email is None and gone.meta == {}
        assert gone.payer_subject.startswith("erased-")
        assert gone.pseudonymised_at is not None
        assert kept.payer_email == "anna@example.ch" and kept.meta == {"dog": "Rex"}
        assert theirs.payer_email == "bob@example.ch"  # its commune keeps 10 years
        assert kept_held.payer_email == "anna@example.ch"  # legal hold wins
        # a second run leaves the pseudonymised payment as it is
        before = gone.payer_subject
        await retention.purge_once(sessions, app.state.runtime.settings)
        async with sessions() as session:
            assert (await session.get(Payment, old)).payer_subject == before


async def test_an_erasure_leaves_a_held_payment_as_it_is_until_the_hold_is_lifted(
    settings_for, auth, tenant
):
    admin = auth(scopes=["payments:admin"], roles=("admin",))
    async with service(settings_for(retention_purge_seconds=0)) as (client, app):
        writer = auth()
        free = await _payment(client, writer, "anna@example.ch")
        held = await _payment(client, writer, "anna@example.ch")
        hold = await client.put(
            f"/v1/legal-holds/payments/{held}", headers=admin, json={"reason": "case 12/2026"}
        )
        assert hold.status_code == 200, hold.text
        sessions = app.state.runtime.sessions
        settings = app.state.runtime.settings
        request = ErasureRequest(erasure_id=uuid.uuid4().hex, tenant=tenant, user_id="anna-subject")
        async with sessions() as session, session.begin():
            outcome = await privacy.erase_person(session, request)
        assert outcome.pseudonymised == {"payments": 1}
        reasons = {k.reason: k.count for k in outcome.kept}
        assert reasons == {"legal_retention": 1, "legal_hold": 1}
        async with sessions() as session:
            untouched = await session.get(Payment, held)
            done = await session.get(Payment, free)
        assert done.payer_email is None and done.payer_subject.startswith("erased-")
        assert untouched.payer_email == "anna@example.ch"  # the hold protects it as it is
        assert untouched.payer_subject == "anna-subject" and untouched.meta == {"dog": "Rex"}
        # the retention pass leaves it while it is held
        await retention.purge_once(sessions, settings)
        async with sessions() as session:
            assert (await session.get(Payment, held)).payer_email == "anna@example.ch"
        lifted = await client.delete(f"/v1/legal-holds/payments/{held}", headers=admin)
        assert lifted.status_code == 204, lifted.text
        assert await retention.purge_once(sessions, settings) == 1
        async with sessions() as session:
            released = await session.get(Payment, held)
        assert released.payer_email is None and released.meta == {}
        assert released.payer_subject.startswith("erased-")
        assert released.amount == 5000 and released.pseudonymised_at is not None
        assert await retention.purge_once(sessions, settings) == 0  # once
