"""No transaction is open while the payment provider answers: creations and refunds record,
call Stripe (through its SDK, against the stand-in), then record. A slow Stripe does not
hold the pool, and a creation cut short between its records is resumed, once, by its retry."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

import httpx
from sqlalchemy import text

from socle.db import create_engine
from socle_dev.localinfra import free_port
from socle_dev.testing import eventually
from tests.support.payment import payment_body, serve_payment, service


async def _sql(database_url: str, query: str, **params: Any) -> Any:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(query), params)).scalar_one()
    finally:
        await engine.dispose()


async def _settled(database_url: str) -> bool:
    """No unpublished event (the relay holds none), no periodic pass under way (none holds
    its advisory lock) and no transaction left open."""
    unpublished = await _sql(database_url, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
    passes = await _sql(
        database_url,
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND d.datname = current_database()",
    )
    return unpublished == passes == 0 and await _idle_in_transaction(database_url) == 0


async def _idle_in_transaction(database_url: str) -> int:
    return int(
        await _sql(
            database_url,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%'",
        )
    )


async def test_a_slow_stripe_holds_no_connection_of_a_pool_of_one(
    stripe_settings, stripe_standin, slow_stripe, auth, payment_database
):
    settings = stripe_settings(
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout=3.0,
        max_requests_in_flight=8,  # above the pool: what is under test is the connection
    )

    async def stripe_asked() -> bool:
        return stripe_standin.held == 1

    async with service(settings) as (client, _):
        # the start-up passes (retention, pruning) have had their turn: the pool is ours
        await eventually(lambda: _settled(payment_database), "the start-up passes")
        creating = asyncio.create_task(
            client.post(
                "/v1/payments",
                json=payment_body(provider="stripe", reference="SLOW"),
                headers={**auth(), "Idempotency-Key": "slow-create"},
            )
        )
        await eventually(stripe_asked, "Stripe to be asked for a Checkout Session")
        # Stripe has not answered: the one pooled connection serves others meanwhile.
        listed = await client.get("/v1/payments", headers=auth())
        assert listed.status_code == 200, listed.text
        assert [p["status"] for p in listed.json()["items"]] == ["created"]
        await eventually(lambda: _settled(payment_database), "no transaction open")
        slow_stripe.set()
        created = await creating
        assert created.status_code == 201, created.text
        payment = created.json()
        assert payment["status"] == "pending" and payment["provider_payment_id"]

        stripe_standin.pay(payment["provider_payment_id"])
        paid = await client.get(f"/v1/payments/{payment['id']}", headers=auth())
        assert paid.json()["status"] == "succeeded"

        # A refund waits for Stripe the same way.
        slow_stripe.clear()
        refunding = asyncio.create_task(
            client.post(
                f"/v1/payments/{payment['id']}/refunds",
                json={"amount": 5000},
                headers={**auth(), "Idempotency-Key": "slow-refund"},
            )
        )
        await eventually(stripe_asked, "Stripe to be asked for a refund")
        meanwhile = await client.get(f"/v1/payments/{payment['id']}", headers=auth())
        assert meanwhile.status_code == 200
        assert [r["status"] for r in meanwhile.json()["refunds"]] == ["pending"]
        assert meanwhile.json()["amount_refunded"] == 0
        await eventually(lambda: _settled(payment_database), "no transaction open")
        slow_stripe.set()
        refund = await refunding
        assert refund.status_code == 201, refund.text
        assert refund.json()["status"] == "succeeded"
        assert refund.json()["provider_refund_id"] in stripe_standin.refunds
        done = (await client.get(f"/v1/payments/{payment['id']}", headers=auth())).json()
        assert (done["status"], done["amount_refunded"]) == ("partially_refunded", 5000)


async def test_a_creation_cut_short_while_stripe_answers_is_resumed_once(
    stripe_settings, stripe_standin, slow_stripe, auth, tenant, payment_database
):
    body = payment_body(provider="stripe", reference="CUT-SHORT")
    headers = {**auth(), "Idempotency-Key": "cut-short"}

    async def stripe_asked() -> bool:
        return stripe_standin.held == 1

    def opened() -> list[dict[str, Any]]:
        return [
            s
            for s in list(stripe_standin.sessions.values())
            if s["metadata"].get("socle_tenant") == tenant
        ]

    async def stripe_opened_it() -> bool:
        return len(opened()) == 1

    async with service(stripe_settings()) as (client, _):
        cut = asyncio.create_task(client.post("/v1/payments", json=body, headers=headers))
        await eventually(stripe_asked, "Stripe to be asked for a Checkout Session")
        cut.cancel()  # the request dies between its two records; Stripe still opens it
        with suppress(asyncio.CancelledError):
            await cut
        slow_stripe.set()
        await eventually(stripe_opened_it, "Stripe to open the session")

        retried = await client.post("/v1/payments", json=body, headers=headers)
        assert retried.status_code == 201, retried.text
        replayed = await client.post("/v1/payments", json=body, headers=headers)
        assert replayed.json() == retried.json()

    payment = retried.json()
    [session] = opened()  # Stripe was asked again with the same key: still one session
    assert payment["provider_payment_id"] == session["id"]
    assert payment["next_url"] == session["url"] and payment["status"] == "pending"
    rows = await _sql(
        payment_database,
        "SELECT count(*) FROM payments WHERE tenant = :t AND reference = 'CUT-SHORT'",
        t=tenant,
    )
    created_events = await _sql(
        payment_database,
        "SELECT count(*) FROM outbox WHERE subject = :s",
        s=f"socle.{tenant}.payment.created",
    )
    assert (rows, created_events) == (1, 1)


async def test_a_refund_cut_short_stays_reserved_until_its_retry_makes_it_once(
    stripe_settings, stripe_standin, slow_stripe, auth
):
    async def stripe_asked() -> bool:
        return stripe_standin.held == 1

    slow_stripe.set()
    async with service(stripe_settings()) as (client, _):
        created = await client.post(
            "/v1/payments", json=payment_body(provider="stripe", amount=8000), headers=auth()
        )
        payment = created.json()
        intent = stripe_standin.pay(payment["provider_payment_id"])["payment_intent"]
        url = f"/v1/payments/{payment['id']}"
        assert (await client.get(url, headers=auth())).json()["status"] == "succeeded"

        def refunds_at_stripe() -> list[dict[str, Any]]:
            return [
                r for r in list(stripe_standin.refunds.values()) if r["payment_intent"] == intent
            ]

        slow_stripe.clear()
        headers = {**auth(), "Idempotency-Key": "refund-cut-short"}
        cut = asyncio.create_task(
            client.post(f"{url}/refunds", json={"amount": 5000}, headers=headers)
        )
        await eventually(stripe_asked, "Stripe to be asked for the refund")
        cut.cancel()
        with suppress(asyncio.CancelledError):
            await cut
        slow_stripe.set()

        async def stripe_refunded() -> bool:
            return len(refunds_at_stripe()) == 1

        await eventually(stripe_refunded, "Stripe to make the refund")
        # Reserved meanwhile: another refund cannot take the same money.
        over = await client.post(f"{url}/refunds", json={"amount": 3001}, headers=auth())
        assert over.status_code == 422, over.text
        retried = await client.post(f"{url}/refunds", json={"amount": 5000}, headers=headers)
        assert retried.status_code == 201, retried.text
        assert (
            await client.post(f"{url}/refunds", json={"amount": 5000}, headers=headers)
        ).json() == retried.json()
        got = (await client.get(url, headers=auth())).json()

    [made] = refunds_at_stripe()  # asked twice with one key: one refund
    assert retried.json()["provider_refund_id"] == made["id"]
    assert (got["status"], got["amount_refunded"]) == ("partially_refunded", 5000)
    assert [(r["amount"], r["status"]) for r in got["refunds"]] == [(5000, "succeeded")]


async def test_a_creation_whose_process_was_killed_is_finished_by_another_process(
    stripe_settings, stripe_standin, slow_stripe, auth, tenant, payment_database, tmp_path
):
    """kill -9 between the two records: another process finishes it once the first one's
    lease (3 x the Stripe timeout + 5 s) is over, with the same Stripe idempotency key."""
    settings = stripe_settings(payment_stripe_timeout_seconds=5.0)
    body = payment_body(provider="stripe", reference="KILLED")
    headers = {**auth(), "Idempotency-Key": "killed"}
    port = free_port()
    with (tmp_path / "payment.log").open("wb") as log:
        first = await serve_payment(settings, port, log)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as remote:
            cut = asyncio.create_task(remote.post("/v1/payments", json=body, headers=headers))

            async def stripe_asked() -> bool:
                return stripe_standin.held == 1

            await eventually(stripe_asked, "Stripe to be asked for a Checkout Session")
            await asyncio.to_thread(first.kill)  # kill -9 between the two records
            with suppress(httpx.HTTPError):
                await cut
    finally:
        await asyncio.to_thread(first.kill)
    slow_stripe.set()

    statuses: list[int] = []
    async with service(settings) as (client, _):

        async def finished() -> httpx.Response | None:
            response = await client.post("/v1/payments", json=body, headers=headers)
            statuses.append(response.status_code)
            return response if response.status_code == 201 else None

        done = await eventually(finished, "another process to finish the creation", within=60)
    assert set(statuses) <= {409, 201}, statuses  # in progress until the lease is over
    opened = [
        s
        for s in list(stripe_standin.sessions.values())
        if s["client_reference_id"] == done.json()["id"]
    ]
    assert [s["id"] for s in opened] == [done.json()["provider_payment_id"]]
    rows = await _sql(
        payment_database,
        "SELECT count(*) FROM payments WHERE tenant = :t AND reference = 'KILLED'",
        t=tenant,
    )
    assert rows == 1
