"""Payments through the sandbox provider: the API, the state machine, its ledger and events."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from socle.db import utcnow
from socle_dev.events import EventRecorder
from socle_dev.testing import assert_problem
from tests.support.html import csrf_of
from tests.support.payment import payment_body, service

PUBLIC = "http://testserver"


async def pay_on_sandbox(client, next_url: str, card: str) -> object:
    path = next_url.removeprefix(PUBLIC)
    page = await client.get(path, headers={"Accept-Language": "de-CH,de;q=0.9"})
    assert page.status_code == 200
    assert "Kartennummer" in page.text and "4242 4242 4242 4242" in page.text
    return await client.post(path, data={"card_number": card, "csrf_token": csrf_of(page.text)})


async def test_a_citizen_pays_on_the_sandbox_page_and_the_procedure_hears_it(
    settings_for, auth, tenant, nats_server
):
    async with (
        EventRecorder(nats_server.url, tenant=tenant) as tap,
        service(settings_for()) as (client, _),
    ):
        created = await client.post(
            "/v1/payments",
            json=payment_body(payer_email="anna.muster@example.ch"),
            headers={**auth(), "Idempotency-Key": "k1"},
        )
        assert created.status_code == 201, created.text
        payment = created.json()
        assert payment["status"] == "pending"
        assert payment["amount"] == 15000 and payment["currency"] == "CHF"
        assert payment["next_url"].startswith(f"{PUBLIC}/pay/")
        assert len(payment["next_url"].rsplit("/", 1)[1]) >= 40  # unguessable token

        done = await pay_on_sandbox(client, payment["next_url"], "4242 4242 4242 4242")
        assert done.status_code == 303
        assert done.headers["location"] == "https://commune.example.ch/procedures/42/paid"

        got = (await client.get(f"/v1/payments/{payment['id']}", headers=auth())).json()
        assert got["status"] == "succeeded"
        assert got["amount_captured"] == 15000 and got["amount_refunded"] == 0
        assert got["next_url"] is None
        assert [(e["from_status"], e["to_status"]) for e in got["ledger"]] == [
            (None, "created"),
            ("created", "pending"),
            ("pending", "succeeded"),
        ]
        assert got["ledger"][-1]["cause"] == "sandbox_card_accepted"

        succeeded = (await tap.wait_for("payment.succeeded"))[0]
        assert tap.types()[:3] == ["payment.created", "payment.pending", "payment.succeeded"]
        assert f"socle.{tenant}.payment.succeeded" in tap.subjects
        assert succeeded["tenant"] == tenant
        data = succeeded["data"]
        assert data["payment_id"] == payment["id"]
        assert data["reference"] == "PERMIT-2026-001" and data["procedure_ref"] == "proc-42"
        assert data["amount_captured"] == 15000 and data["previous_status"] == "pending"
        assert "payer_email" not in data  # the receipt mail asks payment for it:
        assert await tap.secret_mail(succeeded) == {"payer_email": "anna.muster@example.ch"}

        # The page now says the payment is closed; paying twice is refused.
        again = await client.get(payment["next_url"].removeprefix(PUBLIC))
        assert "plus ouvert" in again.text


async def test_a_declined_card_fails_the_payment(settings_for, auth, tenant, nats_server):
    async with (
        EventRecorder(nats_server.url, tenant=tenant) as tap,
        service(settings_for()) as (client, _),
    ):
        payment = (await client.post("/v1/payments", json=payment_body(), headers=auth())).json()
        declined = await pay_on_sandbox(client, payment["next_url"], "4000000000000002")
        assert declined.status_code == 303
        got = (await client.get(f"/v1/payments/{payment['id']}", headers=auth())).json()
        assert got["status"] == "failed" and got["failure_reason"] == "card_declined"
        failed = (await tap.wait_for("payment.failed"))[0]
        assert failed["data"]["cause"] == "sandbox_card_declined"
        # A failed payment cannot be cancelled nor refunded.
        cancel = await client.post(f"/v1/payments/{payment['id']}/cancel", headers=auth())
        assert_problem(cancel, 409, "payment-not-open")
        refund = await client.post(f"/v1/payments/{payment['id']}/refunds", json={}, headers=auth())
        assert_problem(refund, 409, "payment-not-refundable")


async def test_the_sandbox_form_refuses_a_forged_post_and_unknown_cards(settings_for, auth):
    async with service(settings_for()) as (client, _):
        payment = (await client.post("/v1/payments", json=payment_body(), headers=auth())).json()
        path = payment["next_url"].removeprefix(PUBLIC)
        client.cookies.clear()
        forged = await client.post(
            path, data={"card_number": "4242424242424242", "csrf_token": "guess"}
        )
        assert forged.status_code == 403
        page = await client.get(path)
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "no-referrer"
        wrong = await client.post(
            path, data={"card_number": "4242424242424242", "csrf_token": "not-the-cookie"}
        )
        assert wrong.status_code == 403
        unknown = await client.post(
            path, data={"card_number": "1234 5678 9012 3456", "csrf_token": csrf_of(page.text)}
        )
        assert unknown.status_code == 422
        assert "Utilisez une carte de test" in unknown.text
        got = (await client.get(f"/v1/payments/{payment['id']}", headers=auth())).json()
        assert got["status"] == "pending"
        missing = await client.get("/pay/" + "x" * 43)
        assert missing.status_code == 404


async def test_a_concurrent_double_post_with_one_key_charges_once(
    settings_for, auth, tenant, nats_server
):
    async with (
        EventRecorder(nats_server.url, tenant=tenant) as tap,
        service(settings_for()) as (client, _),
    ):
        headers = {**auth(), "Idempotency-Key": "same-click"}
        first, second = await asyncio.gather(
            client.post("/v1/payments", json=payment_body(), headers=headers),
            client.post("/v1/payments", json=payment_body(), headers=headers),
        )
        assert first.status_code == second.status_code == 201, (first.text, second.text)
        assert first.json()["id"] == second.json()["id"]
        listed = (await client.get("/v1/payments", headers=auth())).json()
        assert [p["id"] for p in listed["items"]] == [first.json()["id"]]
        await tap.wait_for("payment.pending")
        assert len(tap.of_type("payment.created")) == 1

        other = await client.post("/v1/payments", json=payment_body(amount=20000), headers=headers)
        assert_problem(other, 422, "idempotency-key-reused")


async def test_bad_input_gets_clear_problems(settings_for, auth, tenant):
    async with service(settings_for(payment_max_amount=100_000)) as (client, _):
        cases = [
            (payment_body(amount=0), "validation-error", "body.amount"),
            (payment_body(amount=-100), "validation-error", "body.amount"),
            (payment_body(amount=150.5), "validation-error", "body.amount"),
            (payment_body(amount="15000"), "validation-error", "body.amount"),
            (payment_body(currency="USD"), "validation-error", "body.currency"),
            (payment_body(return_url="javascript:alert(1)"), "validation-error", "body.return_url"),
        ]
        for body, code, field in cases:
            problem = assert_problem(
                await client.post("/v1/payments", json=body, headers=auth()), 422, code
            )
            assert field in [e["field"] for e in problem["errors"]], problem
        over = assert_problem(
            await client.post("/v1/payments", json=payment_body(amount=100_001), headers=auth()),
            422,
            "amount-over-limit",
        )
        assert "1000.00" in over["detail"]
        assert_problem(
            await client.post("/v1/payments", json=payment_body(provider="twint"), headers=auth()),
            422,
            "unknown-provider",
        )
        stripe_off = assert_problem(
            await client.post("/v1/payments", json=payment_body(provider="stripe"), headers=auth()),
            422,
            "provider-disabled",
        )
        assert "SOCLE_PAYMENT_STRIPE_SECRET_KEY" in stripe_off["detail"]

        mine = (await client.post("/v1/payments", json=payment_body(), headers=auth())).json()
        foreign = auth(for_tenant="another")
        assert_problem(
            await client.get(f"/v1/payments/{mine['id']}", headers=foreign),
            404,
            "payment-not-found",
        )
        assert_problem(
            await client.post(f"/v1/payments/{mine['id']}/cancel", headers=foreign),
            404,
            "payment-not-found",
        )
        assert_problem(
            await client.post("/v1/payments", json=payment_body(), headers=auth(["payments:read"])),
            403,
            "insufficient-scope",
        )
        assert_problem(await client.get("/v1/payments"), 401, "missing-token")


async def test_cancel_closes_an_open_payment_once(settings_for, auth, tenant, nats_server):
    async with (
        EventRecorder(nats_server.url, tenant=tenant) as tap,
        service(settings_for()) as (client, _),
    ):
        payment = (await client.post("/v1/payments", json=payment_body(), headers=auth())).json()
        cancelled = await client.post(f"/v1/payments/{payment['id']}/cancel", headers=auth())
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled" and cancelled.json()["next_url"] is None
        assert_problem(
            await client.post(f"/v1/payments/{payment['id']}/cancel", headers=auth()),
            409,
            "payment-not-open",
        )
        event = (await tap.wait_for("payment.cancelled"))[0]
        assert event["data"]["previous_status"] == "pending"
        page = await pay_on_sandbox_closed(client, payment["next_url"])
        assert page.status_code == 200 and "plus ouvert" in page.text


async def pay_on_sandbox_closed(client, next_url: str):
    return await client.get(next_url.removeprefix(PUBLIC))


async def test_refunds_are_partial_or_full_and_never_more_than_captured(
    settings_for, auth, tenant, nats_server
):
    async with (
        EventRecorder(nats_server.url, tenant=tenant) as tap,
        service(settings_for()) as (client, _),
    ):
        payment = (await client.post("/v1/payments", json=payment_body(), headers=auth())).json()
        await pay_on_sandbox(client, payment["next_url"], "4242424242424242")
        url = f"/v1/payments/{payment['id']}/refunds"

        part = await client.post(
            url,
            json={"amount": 5000, "reason": "fee reduced"},
            headers={**auth(), "Idempotency-Key": "r1"},
        )
        assert part.status_code == 201, part.text
        assert part.json()["amount"] == 5000 and part.json()["provider_refund_id"]
        replay = await client.post(
            url,
            json={"amount": 5000, "reason": "fee reduced"},
            headers={**auth(), "Idempotency-Key": "r1"},
        )
        assert replay.json()["id"] == part.json()["id"]

        too_much = assert_problem(
            await client.post(url, json={"amount": 10001}, headers=auth()),
            422,
            "refund-exceeds-captured",
        )
        assert "10000" in too_much["detail"]
        assert_problem(
            await client.post(url, json={"amount": 0}, headers=auth()), 422, "validation-error"
        )

        rest = await client.post(url, json={}, headers=auth())
        assert rest.status_code == 201 and rest.json()["amount"] == 10000
        got = (await client.get(f"/v1/payments/{payment['id']}", headers=auth())).json()
        assert got["status"] == "refunded"
        assert got["amount_captured"] == 15000 and got["amount_refunded"] == 15000
        assert [r["amount"] for r in got["refunds"]] == [5000, 10000]
        assert [e["to_status"] for e in got["ledger"]][-2:] == ["partially_refunded", "refunded"]
        assert_problem(
            await client.post(url, json={}, headers=auth()), 409, "payment-not-refundable"
        )

        refunded = await tap.wait_for("payment.refunded", 2)
        assert [e["data"]["status"] for e in refunded] == ["partially_refunded", "refunded"]
        assert [e["data"]["refund_amount"] for e in refunded] == [5000, 10000]
        assert refunded[-1]["data"]["amount_refunded"] == 15000


async def test_list_filters_and_pages_with_a_cursor(settings_for, auth):
    async with service(settings_for()) as (client, _):
        ids = []
        for n in range(3):
            created = await client.post(
                "/v1/payments", json=payment_body(reference=f"REF-{n}"), headers=auth()
            )
            ids.append(created.json()["id"])
        await client.post(f"/v1/payments/{ids[0]}/cancel", headers=auth())

        first = (await client.get("/v1/payments?limit=2", headers=auth())).json()
        assert [p["id"] for p in first["items"]] == [ids[2], ids[1]]
        second = (
            await client.get(f"/v1/payments?limit=2&cursor={first['next_cursor']}", headers=auth())
        ).json()
        assert [p["id"] for p in second["items"]] == [ids[0]] and second["next_cursor"] is None

        by_ref = (await client.get("/v1/payments?reference=REF-1", headers=auth())).json()
        assert [p["id"] for p in by_ref["items"]] == [ids[1]]
        cancelled = (await client.get("/v1/payments?status=cancelled", headers=auth())).json()
        assert [p["id"] for p in cancelled["items"]] == [ids[0]]
        future = (utcnow() + timedelta(days=1)).isoformat()
        later = await client.get("/v1/payments", params={"created_from": future}, headers=auth())
        assert later.json()["items"] == []
        earlier = await client.get("/v1/payments", params={"created_to": future}, headers=auth())
        assert len(earlier.json()["items"]) == 3
        assert_problem(
            await client.get("/v1/payments?cursor=bm9wZQ", headers=auth()), 422, "invalid-cursor"
        )
        assert_problem(
            await client.get("/v1/payments?status=paid", headers=auth()), 422, "validation-error"
        )


async def test_the_finance_report_has_one_line_per_payment(settings_for, auth):
    async with service(settings_for()) as (client, _):
        paid = (
            await client.post(
                "/v1/payments", json=payment_body(reference="=HYPERLINK()"), headers=auth()
            )
        ).json()
        await pay_on_sandbox(client, paid["next_url"], "4242424242424242")
        await client.post(
            f"/v1/payments/{paid['id']}/refunds", json={"amount": 2550}, headers=auth()
        )
        open_ = (
            await client.post("/v1/payments", json=payment_body(amount=990), headers=auth())
        ).json()

        today = utcnow().date().isoformat()
        report = await client.get(
            f"/v1/reports/payments.csv?from={today}&to={today}", headers=auth()
        )
        assert report.status_code == 200
        assert report.headers["content-type"].startswith("text/csv")
        lines = report.text.strip().split("\r\n")
        assert lines[0].split(",")[:9] == [
            "payment_id",
            "created_at",
            "reference",
            "procedure_ref",
            "status",
            "currency",
            "amount",
            "amount_captured",
            "amount_refunded",
        ]
        rows = {line.split(",")[0]: line.split(",") for line in lines[1:]}
        assert set(rows) == {paid["id"], open_["id"]}
        assert rows[paid["id"]][2] == "'=HYPERLINK()"  # no formula in the finance office
        assert rows[paid["id"]][4:9] == ["partially_refunded", "CHF", "150.00", "150.00", "25.50"]
        assert rows[paid["id"]][9] == "sandbox" and rows[paid["id"]][10].startswith("sbx_")
        assert rows[open_["id"]][4:9] == ["pending", "CHF", "9.90", "0.00", "0.00"]

        yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
        empty = await client.get(
            f"/v1/reports/payments.csv?from={yesterday}&to={yesterday}", headers=auth()
        )
        assert empty.text.strip().count("\r\n") == 0
        assert_problem(
            await client.get(
                f"/v1/reports/payments.csv?from={today}&to={yesterday}", headers=auth()
            ),
            422,
            "invalid-date-range",
        )
        assert_problem(
            await client.get(
                "/v1/reports/payments.csv?from=2026-13-01&to=2026-01-01", headers=auth()
            ),
            422,
            "validation-error",
        )


async def test_stale_pending_payments_expire(settings_for, auth, tenant, nats_server):
    async with (
        EventRecorder(nats_server.url, tenant=tenant) as tap,
        service(settings_for()) as (client, app),
    ):
        payment = (await client.post("/v1/payments", json=payment_body(), headers=auth())).json()
        domain = app.state.runtime.context.payments
        assert await domain.expire_stale(now=utcnow()) == 0
        assert await domain.expire_stale(now=utcnow() + timedelta(hours=2)) >= 1
        got = (await client.get(f"/v1/payments/{payment['id']}", headers=auth())).json()
        assert got["status"] == "expired" and got["next_url"] is None
        assert got["ledger"][-1]["cause"] == "expiry"
        await tap.wait_for("payment.expired")
        late = await pay_on_sandbox_closed(client, payment["next_url"])
        assert "plus ouvert" in late.text


async def test_the_background_sweep_expires_payments_nobody_paid(
    settings_for, auth, tenant, nats_server
):
    settings = settings_for(payment_expiry_minutes=0, payment_expiry_sweep_seconds=0.1)
    async with (
        EventRecorder(nats_server.url, tenant=tenant) as tap,
        service(settings) as (client, _),
    ):
        payment = (await client.post("/v1/payments", json=payment_body(), headers=auth())).json()
        expired = (await tap.wait_for("payment.expired"))[0]
        assert expired["data"]["payment_id"] == payment["id"]
        assert expired["data"]["cause"] == "expiry"
        got = (await client.get(f"/v1/payments/{payment['id']}", headers=auth())).json()
        assert got["status"] == "expired"


async def test_one_sweep_expires_a_backlog_many_batches_long(settings_for, auth, tenant):
    async with service(settings_for()) as (client, app):
        ids = [
            (await client.post("/v1/payments", json=payment_body(), headers=auth())).json()["id"]
            for _ in range(25)
        ]
        runtime = app.state.runtime
        domain = runtime.context.payments
        later = utcnow() + timedelta(hours=2)
        report = runtime.metrics.report_backlog
        assert await domain.expire_stale(now=later, batch=10, report_backlog=report) >= 25
        metrics = (await client.get("/metrics")).text
        [line] = [m for m in metrics.splitlines() if 'loop="payment_expiry"' in m]
        assert float(line.rsplit(" ", 1)[1]) >= 25  # what was due when the sweep started
        for payment_id in ids:
            got = (await client.get(f"/v1/payments/{payment_id}", headers=auth())).json()
            assert got["status"] == "expired"
