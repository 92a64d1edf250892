"""Creations and refunds cut short (the request gone between the Stripe call and its record)
and never retried are finished by the sweep once their lease is over, with the same Stripe
idempotency key: one session, one refund, or the reservation released when Stripe refuses."""

from __future__ import annotations

import asyncio
import functools
import threading
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import httpx
from sqlalchemy import text

from socle import clock
from socle.db import create_engine
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


async def _waiting_for_a_lock(database_url: str, statement: str) -> bool:
    """Whether a session of the database waits for a lock in a statement starting so."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            waiting = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE :statement"
                ),
                {"statement": statement + "%"},
            )
            return bool(waiting)
    finally:
        await engine.dispose()


async def _sweep_meets_retry(
    app: Any, database_url: str, retry: Callable[[], Awaitable[httpx.Response]]
) -> tuple[Any, Any]:
    """The sweep and ``retry()`` finish the same work at once: the sweep's transaction is
    held up when it writes the event of the work (after it took the first of its locks),
    and the retry comes meanwhile. What each ended with (an exception or its result)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            held = await conn.begin()
            await conn.execute(text("LOCK TABLE outbox IN SHARE MODE"))
            sweeping = asyncio.create_task(_sweep(app))
            await eventually(
                functools.partial(_waiting_for_a_lock, database_url, "INSERT INTO outbox"),
                "the sweep to write the event",
            )
            retrying = asyncio.create_task(retry())
            await eventually(
                functools.partial(_waiting_for_a_lock, database_url, "SELECT"),
                "the retry to wait for the sweep",
            )
            await held.rollback()
    finally:
        await engine.dispose()
    swept, retried = await asyncio.gather(sweeping, retrying, return_exceptions=True)
    return swept, retried


# Each records the work in a transaction that locks the request's key and the payment (and
# the refund). They lock them in the same order, the key first: in the other, they deadlock
# and one of them fails (the retry with a 500, or the sweep).


async def test_the_sweep_and_a_retry_finishing_one_creation_at_once_both_succeed(
    stripe_settings, stripe_standin, slow_stripe, auth, payment_database
):
    body = payment_body(provider="stripe", reference=f"RACE-{uuid.uuid4().hex[:8]}")
    headers = {**auth(), "Idempotency-Key": f"race-{uuid.uuid4().hex}"}
    async with service(stripe_settings()) as (client, app):
        await _cut_short(
            stripe_standin, slow_stripe, client.post("/v1/payments", json=body, headers=headers)
        )
        swept, retried = await _sweep_meets_retry(
            app,
            payment_database,
            functools.partial(client.post, "/v1/payments", json=body, headers=headers),
        )
        assert swept == 1, swept
        assert retried.status_code == 201, retried.text
        got = await client.get(f"/v1/payments/{retried.json()['id']}", headers=auth())
    payment = got.json()
    assert (retried.json()["id"], retried.json()["status"]) == (payment["id"], "pending")
    [session] = [
        s
        for s in list(stripe_standin.sessions.values())
        if s["client_reference_id"] == payment["id"]
    ]
    assert payment["provider_payment_id"] == session["id"]
    assert [e["to_status"] for e in payment["ledger"]] == ["created", "pending"]


async def _refund_cut_short(
    client: Any, stripe_standin: Any, slow_stripe: Any, auth: Any
) -> tuple[str, str, Callable[[], Awaitable[Any]]]:
    """A payment paid with Stripe whose refund of 50.00 was cut short: the payment's URL, its
    payment intent, and the refund request to send again (same key)."""
    payment_id, intent = await _paid_with_stripe(client, stripe_standin, auth)
    url = f"/v1/payments/{payment_id}"
    headers = {**auth(), "Idempotency-Key": f"race-{uuid.uuid4().hex}"}
    refund = functools.partial(
        client.post, f"{url}/refunds", json={"amount": 5000}, headers=headers
    )
    await _cut_short(stripe_standin, slow_stripe, refund())
    return url, intent, refund


async def test_the_sweep_and_a_retry_finishing_one_refund_at_once_both_succeed(
    stripe_settings, stripe_standin, slow_stripe, auth, payment_database
):
    async with service(stripe_settings()) as (client, app):
        slow_stripe.set()
        url, intent, refund = await _refund_cut_short(client, stripe_standin, slow_stripe, auth)
        swept, retried = await _sweep_meets_retry(app, payment_database, refund)
        assert swept == 1, swept
        assert retried.status_code == 201, retried.text
        got = (await client.get(url, headers=auth())).json()
    [made] = _refunds_at(stripe_standin, intent)
    assert [(r["amount"], r["status"], r["provider_refund_id"]) for r in got["refunds"]] == [
        (5000, "succeeded", made["id"])
    ]
    assert (got["status"], got["amount_refunded"]) == ("partially_refunded", 5000)
    assert retried.json() == got["refunds"][0]


async def test_a_refund_its_retry_made_while_the_sweep_asked_stripe_is_counted_once(
    stripe_settings, stripe_standin, slow_stripe, auth
):
    """The sweep read the refund pending, then asked Stripe; meanwhile the refund's retry
    made it. The sweep then finds it made (it reads it again once it holds the payment):
    the refund is counted once in what was refunded."""
    async with service(stripe_settings()) as (client, app):
        slow_stripe.set()
        url, intent, refund = await _refund_cut_short(client, stripe_standin, slow_stripe, auth)
        slow_stripe.clear()
        stripe_standin.hold_only = 1  # the sweep's call waits; the retry's does not
        sweeping = asyncio.create_task(_sweep(app))

        async def sweep_asked_stripe() -> bool:
            return stripe_standin.held == 1

        await eventually(sweep_asked_stripe, "the sweep to ask Stripe")
        retried = await refund()
        assert retried.status_code == 201, retried.text
        slow_stripe.set()
        await sweeping
        got = (await client.get(url, headers=auth())).json()
    [made] = _refunds_at(stripe_standin, intent)
    assert [(r["amount"], r["status"], r["provider_refund_id"]) for r in got["refunds"]] == [
        (5000, "succeeded", made["id"])
    ]
    assert (got["status"], got["amount_refunded"]) == ("partially_refunded", 5000)
    refunded = [e for e in got["ledger"] if e["cause"] == f"refund:{got['refunds'][0]['id']}"]
    assert [(e["to_status"], e["amount"]) for e in refunded] == [("partially_refunded", 5000)]
