"""Stripe through the official SDK, against a local stand-in speaking Stripe's HTTP API."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from socle.db import utcnow
from socle_dev.events import EventRecorder
from socle_dev.testing import assert_problem
from tests.support.payment import payment_body, service
from tests.support.stripe_standin import StripeStandIn, sign


@pytest.fixture(autouse=True)
def stripe_is_up(stripe_standin: StripeStandIn):
    stripe_standin.outage = False
    yield
    stripe_standin.outage = False


async def post_webhook(client, payload: bytes, signature: str | None = None):
    return await client.post(
        "/v1/webhooks/stripe",
        content=payload,
        headers={
            "Stripe-Signature": signature or sign(payload),
            "Content-Type": "application/json",
        },
    )


async def create(client, auth, **overrides):
    response = await client.post(
        "/v1/payments", json=payment_body(provider="stripe", **overrides), headers=auth()
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_the_truth_on_return_comes_from_stripe_before_its_webhook(
    stripe_settings, stripe_standin, auth, tenant, nats_server
):
    async with (
        EventRecorder(nats_server.url, tenant=tenant) as tap,
        service(stripe_settings()) as (client, _),
    ):
        payment = await create(client, auth)
        assert payment["status"] == "pending"
        session = stripe_standin.session_for(payment["id"])
        assert payment["next_url"] == session["url"]
        assert payment["provider_payment_id"] == session["id"]
        assert session["amount_total"] == 15000 and session["currency"] == "chf"
        assert session["metadata"]["socle_payment_id"] == payment["id"]

        paid = stripe_standin.pay(session["id"])
        # The citizen is back on return_url; the webhook has not arrived yet.
        got = (await client.get(f"/v1/payments/{payment['id']}", headers=auth())).json()
        assert got["status"] == "succeeded"
        assert got["amount_captured"] == 15000
        assert got["provider_charge_id"] == paid["payment_intent"]
        assert got["ledger"][-1]["cause"] == "provider_poll"

        # The webhook arrives late, then twice: one state, one event.
        payload = stripe_standin.event("checkout.session.completed", paid)
        late = await post_webhook(client, payload)
        assert late.status_code == 200 and late.json()["outcome"] == "applied"
        twice = await post_webhook(client, payload)
        assert twice.status_code == 200 and twice.json()["outcome"] == "duplicate"
        await tap.wait_for("payment.succeeded")
        got = (await client.get(f"/v1/payments/{payment['id']}", headers=auth())).json()
        assert [e["to_status"] for e in got["ledger"]].count("succeeded") == 1
        assert len(tap.of_type("payment.succeeded")) == 1


async def test_webhooks_out_of_order_yield_one_correct_state(
    stripe_settings, stripe_standin, auth, tenant, nats_server
):
    async with (
        EventRecorder(nats_server.url, tenant=tenant) as tap,
        service(stripe_settings()) as (client, _),
    ):
        payment = await create(client, auth)
        session = stripe_standin.session_for(payment["id"])
        open_snapshot = dict(session)
        paid = stripe_standin.pay(session["id"])

        completed = await post_webhook(
            client, stripe_standin.event("checkout.session.completed", paid)
        )
        assert completed.json()["outcome"] == "applied"
        # A stale "expired" event for the same session, delivered after: no effect.
        stale = dict(open_snapshot, status="expired")
        expired = await post_webhook(
            client, stripe_standin.event("checkout.session.expired", stale)
        )
        assert expired.status_code == 200
        got = (await client.get(f"/v1/payments/{payment['id']}", headers=auth())).json()
        assert got["status"] == "succeeded"
        event = (await tap.wait_for("payment.succeeded"))[0]
        assert event["data"]["cause"].startswith("stripe_webhook:evt_")
        assert tap.of_type("payment.expired") == []

        # An expiry for a session nobody paid closes its payment.
        unpaid = await create(client, auth, reference="UNPAID")
        gone = stripe_standin.expire(stripe_standin.session_for(unpaid["id"])["id"])
        await post_webhook(client, stripe_standin.event("checkout.session.expired", gone))
        got = (await client.get(f"/v1/payments/{unpaid['id']}", headers=auth())).json()
        assert got["status"] == "expired"
        await tap.wait_for("payment.expired")


async def test_webhooks_with_a_bad_signature_or_replayed_late_are_refused(
    stripe_settings, stripe_standin, auth
):
    async with service(stripe_settings()) as (client, _):
        payment = await create(client, auth)
        paid = stripe_standin.pay(stripe_standin.session_for(payment["id"])["id"])
        payload = stripe_standin.event("checkout.session.completed", paid)

        forged = await post_webhook(client, payload, sign(payload, secret="whsec_wrong"))
        assert_problem(forged, 400, "invalid-signature")
        altered = payload.replace(b'"paid"', b'"paid" ')
        assert_problem(await post_webhook(client, altered, sign(payload)), 400, "invalid-signature")
        replayed = await post_webhook(
            client, payload, sign(payload, timestamp=int(time.time()) - 3600)
        )
        assert_problem(replayed, 400, "invalid-signature")
        no_header = await client.post("/v1/webhooks/stripe", content=payload)
        assert_problem(no_header, 400, "invalid-signature")

        # Nothing changed through the refused calls; the payment is still as Stripe says.
        stripe_standin.outage = True
        got = (await client.get(f"/v1/payments/{payment['id']}", headers=auth())).json()
        assert got["status"] == "pending"


async def test_stripe_unreachable_keeps_the_payment_pending_and_charges_once(
    stripe_settings, stripe_standin, auth, tenant, nats_server
):
    async with (
        EventRecorder(nats_server.url, tenant=tenant) as tap,
        service(stripe_settings()) as (client, app),
    ):
        stripe_standin.outage = True
        payment = await create(client, auth)
        assert payment["status"] == "pending"
        assert payment["provider_payment_id"] is None
        assert payment["next_url"].startswith("http://testserver/pay/")
        assert (
            "provider_unavailable"
            in (await client.get(f"/v1/payments/{payment['id']}", headers=auth())).json()["ledger"][
                -1
            ]["cause"]
        )

        # The citizen arrives while Stripe is still down: a page saying so, nothing lost.
        path = payment["next_url"].removeprefix("http://testserver")
        down = await client.get(path)
        assert down.status_code == 503 and "injoignable" in down.text
        got = (await client.get(f"/v1/payments/{payment['id']}", headers=auth())).json()
        assert got["status"] == "pending"

        # Stripe is back: the visit opens the Checkout Session, once, however often it is retried.
        stripe_standin.outage = False
        first = await client.get(path)
        second = await client.get(path)
        assert first.status_code == second.status_code == 303
        assert first.headers["location"] == second.headers["location"]
        sessions = [
            s for s in stripe_standin.sessions.values() if s["client_reference_id"] == payment["id"]
        ]
        assert len(sessions) == 1 and first.headers["location"] == sessions[0]["url"]

        # Closing it needs Stripe: while Stripe is down, the cancel is refused, not half-done.
        stripe_standin.outage = True
        cancel = await client.post(f"/v1/payments/{payment['id']}/cancel", headers=auth())
        assert_problem(cancel, 503, "provider-unavailable")
        assert cancel.headers["retry-after"] == "30"
        stripe_standin.outage = False

        # Never paid: it expires, and Stripe's session is closed so it cannot be paid later.
        domain = app.state.runtime.context.payments
        await domain.expire_stale(now=utcnow() + timedelta(hours=2))
        got = (await client.get(f"/v1/payments/{payment['id']}", headers=auth())).json()
        assert got["status"] == "expired"
        assert sessions[0]["status"] == "expired"
        await tap.wait_for("payment.expired")


async def test_an_expiring_payment_paid_at_the_last_moment_succeeds(
    stripe_settings, stripe_standin, auth
):
    async with service(stripe_settings()) as (client, app):
        payment = await create(client, auth)
        stripe_standin.pay(stripe_standin.session_for(payment["id"])["id"])
        await app.state.runtime.context.payments.expire_stale(now=utcnow() + timedelta(hours=2))
        stripe_standin.outage = True  # what we show is what we stored
        got = (await client.get(f"/v1/payments/{payment['id']}", headers=auth())).json()
        assert got["status"] == "succeeded"


async def test_refunds_go_through_stripe(
    stripe_settings, stripe_standin, auth, tenant, nats_server
):
    async with (
        EventRecorder(nats_server.url, tenant=tenant) as tap,
        service(stripe_settings()) as (client, _),
    ):
        payment = await create(client, auth, amount=5000, currency="EUR")
        paid = stripe_standin.pay(stripe_standin.session_for(payment["id"])["id"])
        await post_webhook(client, stripe_standin.event("checkout.session.completed", paid))
        url = f"/v1/payments/{payment['id']}/refunds"

        stripe_standin.outage = True
        down = await client.post(
            url, json={"amount": 1000}, headers={**auth(), "Idempotency-Key": "x"}
        )
        assert_problem(down, 503, "provider-unavailable")
        stripe_standin.outage = False

        refund = await client.post(
            url, json={"amount": 1000}, headers={**auth(), "Idempotency-Key": "x"}
        )
        assert refund.status_code == 201, refund.text
        at_stripe = stripe_standin.refunds[refund.json()["provider_refund_id"]]
        assert at_stripe["amount"] == 1000 and at_stripe["payment_intent"] == paid["payment_intent"]
        assert_problem(
            await client.post(url, json={"amount": 4001}, headers=auth()),
            422,
            "refund-exceeds-captured",
        )
        event = (await tap.wait_for("payment.refunded"))[0]
        assert event["data"]["currency"] == "EUR" and event["data"]["refund_amount"] == 1000
        assert len(stripe_standin.refunds) >= 1


async def test_a_double_click_opens_one_checkout_session(stripe_settings, stripe_standin, auth):
    async with service(stripe_settings()) as (client, _):
        headers = {**auth(), "Idempotency-Key": "double-click"}
        body = payment_body(provider="stripe", reference="DOUBLE")
        first, second = await asyncio.gather(
            client.post("/v1/payments", json=body, headers=headers),
            client.post("/v1/payments", json=body, headers=headers),
        )
        assert first.status_code == second.status_code == 201, (first.text, second.text)
        assert first.json()["id"] == second.json()["id"]
        assert first.json()["next_url"] == second.json()["next_url"]
        opened = [
            s
            for s in stripe_standin.sessions.values()
            if s["client_reference_id"] == first.json()["id"]
        ]
        assert len(opened) == 1
