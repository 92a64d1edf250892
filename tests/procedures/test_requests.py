"""A citizen's request through the API: answers checked on the server, the fee paid through
payment, submitted with a reference; nobody else sees it."""

from __future__ import annotations

import httpx
import nats

from socle.eventtypes.payment import EVENT_OF_STATUS
from socle_dev.events import EventRecorder
from socle_dev.testing import assert_problem
from tests.support.procedures import DOG, answer, platform_for, start


async def test_dog_registration_from_draft_to_paid_and_submitted(platform):
    await platform.publish("dog-registration")
    draft = await start(platform)
    assert draft["state"] == "draft" and draft["fee"]["amount"] == 10000
    wrong = dict(DOG["dog"], microchip="12345")
    refused = await answer(platform, draft["id"], "dog", wrong)
    body = assert_problem(refused, 422, "invalid-answers")
    assert [(e["pointer"], e["code"]) for e in body["errors"]] == [
        ("/answers/microchip", "pattern")
    ]
    assert body["errors"][0]["message"] == "The microchip number has 15 digits."
    for step, answers in DOG.items():
        saved = await answer(platform, draft["id"], step, answers)
        assert saved.status_code == 200, saved.text
    unpaid = await platform.api.post(f"/v1/requests/{draft['id']}/submit", headers=platform.auth())
    assert_problem(unpaid, 409, "fee-not-paid")

    opened = await platform.api.post(f"/v1/requests/{draft['id']}/payment", headers=platform.auth())
    assert opened.status_code == 200, opened.text
    fee = opened.json()["fee"]
    assert fee["payment_status"] == "pending" and fee["next_url"].startswith(
        "http://payment.test/pay/"
    )
    paid = await platform.pay_on_sandbox(fee["next_url"])
    assert paid.status_code == 303
    assert paid.headers["location"] == f"http://testserver/requests/{draft['id']}/payment-return"
    refreshed = await platform.api.post(
        f"/v1/requests/{draft['id']}/payment/refresh", headers=platform.auth()
    )
    assert refreshed.json()["fee"]["payment_status"] == "succeeded"
    assert refreshed.json()["fee"]["amount_paid"] == 10000

    submitted = await platform.api.post(
        f"/v1/requests/{draft['id']}/submit", headers=platform.auth()
    )
    assert submitted.status_code == 200, submitted.text
    reference = submitted.json()["reference"]
    assert reference.startswith(f"{platform.tenant.upper()[:8]}-20") and reference.endswith(
        "-000001"
    )
    frozen = await answer(platform, draft["id"], "dog", DOG["dog"])
    assert_problem(frozen, 409, "request-not-editable")
    shown = (await platform.api.get(f"/v1/requests/{draft['id']}", headers=platform.auth())).json()
    assert [h["to_state"] for h in shown["history"]] == ["draft", "draft", "submitted"]


async def test_the_fee_follows_the_answers_and_hidden_answers_are_dropped(platform):
    await platform.publish("parking-card")
    draft = await start(platform, "parking-card")
    vehicle = {"plate": "VD 12345", "zone": "B", "months": "6"}
    saved = await answer(platform, draft["id"], "vehicle", vehicle)
    assert saved.json()["fee"]["amount"] == 18000
    await platform.publish("dog-registration")
    dog = await start(platform)
    await answer(platform, dog["id"], "dog", DOG["dog"])
    changed = await answer(platform, dog["id"], "dog", dict(DOG["dog"], moved_in=False))
    assert "previous_commune" not in changed.json()["answers"]


async def test_another_citizen_and_another_commune_get_404(platform):
    await platform.publish("dog-registration")
    mine = await start(platform, who="citizen-1")
    for headers in (platform.auth("citizen-2"), platform.auth("citizen-1", tenant="elsewhere")):
        seen = await platform.api.get(f"/v1/requests/{mine['id']}", headers=headers)
        assert_problem(seen, 404, "request-not-found")
        changed = await platform.api.put(
            f"/v1/requests/{mine['id']}/steps/dog", json={"answers": DOG["dog"]}, headers=headers
        )
        assert_problem(changed, 404, "request-not-found")
    theirs = await platform.api.get("/v1/requests", headers=platform.auth("citizen-2"))
    assert theirs.json()["items"] == []
    staff = await platform.api.get("/v1/requests", headers=platform.staff())
    assert [r["id"] for r in staff.json()["items"]] == [mine["id"]]


async def test_staff_review_and_decide_but_a_citizen_cannot(platform, nats_server):
    await platform.publish("parking-card")
    draft = await start(platform, "parking-card")
    await answer(
        platform,
        draft["id"],
        "holder",
        {
            "name": "Anna",
            "email": "anna@example.ch",
            "address": {
                "street": "Rue du Lac",
                "number": "1",
                "postal_code": "1800",
                "locality": "Vevey",
            },
        },
    )
    await answer(
        platform, draft["id"], "vehicle", {"plate": "VD 12345", "zone": "A", "months": "1"}
    )
    bill = await platform.api.post(f"/v1/requests/{draft['id']}/payment", headers=platform.auth())
    assert bill.json()["fee"]["provider"] == "qrbill"
    submitted = await platform.api.post(
        f"/v1/requests/{draft['id']}/submit", headers=platform.auth()
    )
    assert submitted.status_code == 200, submitted.text  # a QR-bill is paid later by transfer
    selfreview = await platform.api.post(
        f"/v1/requests/{draft['id']}/transitions", json={"to": "approved"}, headers=platform.auth()
    )
    assert_problem(selfreview, 409, "illegal-transition")
    async with EventRecorder(nats_server.url, tenant=platform.tenant) as tap:
        for to in ("in_review", "approved"):
            moved = await platform.api.post(
                f"/v1/requests/{draft['id']}/transitions",
                json={"to": to, "note": "ok"},
                headers=platform.staff(),
            )
            assert moved.status_code == 200, moved.text
        approved = await tap.wait_for("procedure.request.approved")
    assert tap.types()[-2:] == ["procedure.request.in_review", "procedure.request.approved"]
    assert approved[0]["data"]["templates"] == []
    assert approved[0]["data"]["actor"] == "agent-7"


async def test_a_duplicate_late_or_foreign_payment_event_has_no_wrong_effect(platform, nats_server):
    await platform.publish("dog-registration")
    draft = await start(platform)
    for step, answers in DOG.items():
        await answer(platform, draft["id"], step, answers)
    opened = (
        await platform.api.post(f"/v1/requests/{draft['id']}/payment", headers=platform.auth())
    ).json()
    payment_id = opened["fee"]["payment_id"]
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()

    async def send(status, *, tenant=None, request_id=None, pid=None, event_id=None):
        """A payment event as payment publishes it (its payload model)."""
        payload = EVENT_OF_STATUS[status](
            payment_id=pid or payment_id,
            status=status,
            previous_status="pending",
            reference="DOG-1",
            procedure_ref=request_id or draft["id"],
            payer_email=None,
            amount=10000,
            currency="CHF",
            amount_captured=10000 if status == "succeeded" else 0,
            amount_refunded=0,
            provider="sandbox",
            cause="test",
        )
        event = payload.event(tenant=tenant or platform.tenant, subject=pid or payment_id)
        if event_id:
            event.id = event_id
        await js.publish(event.nats_subject, event.to_bytes())
        return event

    await send("succeeded", tenant="elsewhere")  # another commune's event naming our request
    await send("succeeded", request_id="unknown-request")
    first = await send("succeeded")
    await platform.wait_for(draft["id"], lambda r: r["fee"]["payment_status"] == "succeeded")
    await send("succeeded", event_id=first.id + "x")  # the same outcome again
    await send("failed")  # late and out of order
    marker = await platform.api.post(f"/v1/requests/{draft['id']}/submit", headers=platform.auth())
    assert marker.status_code == 200
    await nc.drain()
    shown = (await platform.api.get(f"/v1/requests/{draft['id']}", headers=platform.auth())).json()
    assert shown["fee"]["payment_status"] == "succeeded"
    payment_notes = [h for h in shown["history"] if h["actor"] == "payment"]
    assert len(payment_notes) == 1


class LosesFirstAnswer(httpx.AsyncBaseTransport):
    """Passes requests to payment, but loses the answer of the first payment creation
    (payment did the work; the caller never hears of it), as a dropped connection would."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path == "/v1/payments" and not self.lost:
            self.lost += 1
            await response.aread()
            raise httpx.ReadError("connection lost before the answer", request=request)
        return response


async def test_a_lost_payment_answer_retried_opens_one_payment_not_two(
    procedures_database, payment_db, nats_server, issuer, tenant, storage_db, s3_server
):
    async with platform_for(
        procedures_database, payment_db, nats_server, issuer, tenant, storage_db, s3_server
    ) as p:
        http = p.app.state.runtime.context.charging.client._http
        lossy = LosesFirstAnswer(http._transport)
        http._transport = lossy
        await p.publish("dog-registration")
        draft = await start(p)
        for step, answers in DOG.items():
            assert (await answer(p, draft["id"], step, answers)).status_code == 200
        lost = await p.api.post(f"/v1/requests/{draft['id']}/payment", headers=p.auth())
        assert lost.status_code == 503, lost.text
        assert lossy.lost == 1
        again = await p.api.post(f"/v1/requests/{draft['id']}/payment", headers=p.auth())
        assert again.status_code == 200, again.text
        commune = issuer.token(
            audience="socle-payment",
            tenant=tenant,
            scopes=["payments:read"],
            subject="back-office",
            client_id="back-office",
        )
        listed = await p.payment.get("/v1/payments", headers={"Authorization": f"Bearer {commune}"})
        assert listed.status_code == 200, listed.text
        payments = listed.json()["items"]
        assert [x["id"] for x in payments] == [again.json()["fee"]["payment_id"]]
