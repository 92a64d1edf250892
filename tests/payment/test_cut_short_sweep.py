"""Creations and refunds cut short (the request gone between the Stripe call and its record)
and never retried are finished by the sweep once their lease is over, with the same Stripe
idempotency key: one session, one refund, or the reservation released when Stripe refuses."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import httpx

from socle import clock
from socle_dev.testing import assert_problem, eventually
from tests.support.payment import payment_body, service
from tests.support.stripe_standin import StripeStandIn

LATER = {"minutes": 5}
"""Past the lease of an attempt (3 x the Stripe timeout + 5 s), before the payment expires."""


async def _cut_short(
    standin: StripeStandIn, gate: threading.Event, request: Awaitable[httpx.Response]
) -> None:
    """Send ``request``, cancel it while Stripe is answering, then let Stripe answer."""
    gate.clear()
    cut = asyncio.ensure_future(request)

    async def stripe_asked() -> bool:
        return standin.held == 1

    await eventually(stripe_asked, "Stripe to be asked")
    cut.cancel()
    with suppress(asyncio.CancelledError):
        await cut
    gate.set()

    async def stripe_answered() -> bool:
        return standin.held == 0

    await eventually(stripe_answered, "Stripe to answer the request cut short")


async def _sweep(app: Any) -> int:
    loop = app.state.runtime.periodic["payment_cut_short"]
    with clock.advanced(**LATER):
        done: int = await loop.run_once()
    return done


async def _paid_with_stripe(
    client: httpx.AsyncClient, standin: StripeStandIn, auth: Callable[..., dict[str, str]]
) -> tuple[str, str]:
    """A Stripe payment of 80.00, paid: its id and its payment intent."""
    created = await client.post(
        "/v1/payments", json=payment_body(provider="stripe", amount=8000), headers=auth()
    )
    payment = created.json()
    intent = standin.pay(payment["provider_payment_id"])["payment_intent"]
    got = await client.get(f"/v1/payments/{payment['id']}", headers=auth())
    assert got.json()["status"] == "succeeded"
    return payment["id"], str(intent)


def _refunds_at(standin: StripeStandIn, intent: str) -> list[dict[str, Any]]:
    return [r for r in list(standin.refunds.values()) if r["payment_intent"] == intent]


async def test_a_refund_cut_short_and_never_retried_is_made_once_by_the_sweep(
    stripe_settings, stripe_standin, slow_stripe, auth
):
    async with service(stripe_settings()) as (client, app):
        slow_stripe.set()
        payment_id, intent = await _paid_with_stripe(client, stripe_standin, auth)
        url = f"/v1/payments/{payment_id}"
        headers = {**auth(), "Idempotency-Key": f"sweep-{uuid.uuid4().hex}"}
        await _cut_short(
            stripe_standin,
            slow_stripe,
            client.post(f"{url}/refunds", json={"amount": 5000}, headers=headers),
        )
        cut = (await client.get(url, headers=auth())).json()
        assert [r["status"] for r in cut["refunds"]] == ["pending"]

        assert await _sweep(app) >= 1

        got = (await client.get(url, headers=auth())).json()
        asked = len(stripe_standin.requests)
        retried = await client.post(f"{url}/refunds", json={"amount": 5000}, headers=headers)
        assert len(stripe_standin.requests) == asked  # the key replays the sweep's answer
    [made] = _refunds_at(stripe_standin, intent)  # Stripe asked twice with one key: one refund
    assert [(r["amount"], r["status"], r["provider_refund_id"]) for r in got["refunds"]] == [
        (5000, "succeeded", made["id"])
    ]
    assert (got["status"], got["amount_refunded"]) == ("partially_refunded", 5000)
    assert retried.status_code == 201, retried.text
    assert retried.json() == got["refunds"][0]


async def test_a_refund_stripe_refuses_is_released_by_the_sweep(
    stripe_settings, stripe_standin, slow_stripe, auth
):
    async with service(stripe_settings()) as (client, app):
        slow_stripe.set()
        payment_id, intent = await _paid_with_stripe(client, stripe_standin, auth)
        url = f"/v1/payments/{payment_id}"
        # Meanwhile someone refunds 40.00 in Stripe's dashboard: Stripe refuses our 50.00.
        with stripe_standin.lock:
            dashboard = f"re_{uuid.uuid4().hex[:24]}"
            stripe_standin.refunds[dashboard] = {
                "id": dashboard,
                "object": "refund",
                "amount": 4000,
                "payment_intent": intent,
                "status": "succeeded",
            }
        headers = {**auth(), "Idempotency-Key": f"sweep-{uuid.uuid4().hex}"}
        await _cut_short(
            stripe_standin,
            slow_stripe,
            client.post(f"{url}/refunds", json={"amount": 5000}, headers=headers),
        )
        reserved = await client.post(f"{url}/refunds", json={"amount": 4000}, headers=auth())
        assert reserved.status_code == 422, reserved.text  # 50.00 of 80.00 still reserved

        assert await _sweep(app) >= 1

        got = (await client.get(url, headers=auth())).json()
        assert [(r["amount"], r["status"]) for r in got["refunds"]] == [(5000, "failed")]
        assert (got["status"], got["amount_refunded"]) == ("succeeded", 0)
        released = await client.post(f"{url}/refunds", json={"amount": 4000}, headers=auth())
        assert released.status_code == 201, released.text
        # The key was forgotten: its retry is a new request, checked afresh.
        retried = await client.post(f"{url}/refunds", json={"amount": 5000}, headers=headers)
        assert_problem(retried, 422, "refund-exceeds-captured")
    assert sorted(r["amount"] for r in _refunds_at(stripe_standin, intent)) == [4000, 4000]


async def test_a_creation_cut_short_and_never_retried_records_the_session_stripe_opened(
    stripe_settings, stripe_standin, slow_stripe, auth, tenant
):
    reference = f"SWEPT-{uuid.uuid4().hex[:8]}"

    def opened() -> list[dict[str, Any]]:
        return [
            s
            for s in list(stripe_standin.sessions.values())
            if s["metadata"].get("socle_tenant") == tenant and s["client_reference_id"] in ids
        ]

    body = payment_body(provider="stripe", reference=reference)
    headers = {**auth(), "Idempotency-Key": f"sweep-{uuid.uuid4().hex}"}
    async with service(stripe_settings()) as (client, app):
        await _cut_short(
            stripe_standin, slow_stripe, client.post("/v1/payments", json=body, headers=headers)
        )
        listed = await client.get("/v1/payments", params={"reference": reference}, headers=auth())
        [cut] = listed.json()["items"]
        ids = {cut["id"]}
        assert cut["status"] == "created" and len(opened()) == 1

        assert await _sweep(app) >= 1

        got = (await client.get(f"/v1/payments/{cut['id']}", headers=auth())).json()
        asked = len(stripe_standin.requests)
        retried = await client.post("/v1/payments", json=body, headers=headers)
        assert len(stripe_standin.requests) == asked  # the key replays the sweep's answer
    [session] = opened()  # Stripe asked again with the same key: still one session
    assert (got["status"], got["provider_payment_id"]) == ("pending", session["id"])
    assert got["next_url"] == session["url"]
    assert retried.status_code == 201, retried.text
    assert (retried.json()["id"], retried.json()["status"]) == (cut["id"], "pending")
    assert retried.json()["provider_payment_id"] == session["id"]
