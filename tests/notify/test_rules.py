"""Rules from events: services publish, notify mails; identity mails flow without a rule."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from socle.bus import Bus
from socle.events import CloudEvent
from socle_dev.testing import assert_problem, eventually
from tests.support.notify import client_token, create_template, email_template, parts


@pytest.fixture
async def bus(nats_server) -> AsyncIterator[Bus]:
    publisher = Bus(url=nats_server.url, name="test-publisher")
    await publisher.connect()
    yield publisher
    await publisher.close()


RECEIPT = email_template(
    fr={
        "subject": "Quittance ((reference))",
        "body": "Nous avons reçu ((amount_display)) pour ((reference)). Merci !",
    },
    de={
        "subject": "Quittung ((reference))",
        "body": "Wir haben ((amount_display)) für ((reference)) erhalten. Danke!",
    },
)


async def test_payment_succeeded_produces_the_receipt_mail(
    notify, admin, sender, bus, smtp_sink, tenant, identity_desk
):
    """The event carries no address: notify asks payment for the payer's."""
    payer = f"payer.{tenant}@vevey.ch"
    async with notify() as client:
        template = await create_template(client, admin, RECEIPT)
        rule = await client.post(
            "/v1/rules",
            json={
                "event_type": "payment.succeeded",
                "template_id": template["id"],
                "recipient_field": "data.payer_email",
                "language_field": "data.locale",
            },
            headers=admin,
        )
        assert rule.status_code == 201, rule.text
        listed = (await client.get("/v1/rules", headers=admin)).json()["items"]
        assert [r["id"] for r in listed] == [rule.json()["id"]]

        event = CloudEvent.new(
            service="payment",
            type="payment.succeeded",
            tenant=tenant,
            data={
                "payment_id": "p1",
                "reference": "PERMIS-7",
                "amount": 12550,
                "currency": "CHF",
                "locale": "de-CH",
            },
        )
        identity_desk.knows(event, payer)
        await bus.publish_event(event)
        await bus.publish_event(event)  # a redelivery has no second effect

        [mail] = await eventually(lambda: _mails(smtp_sink, payer), "the receipt mail")
        assert mail["Subject"] == "Quittung PERMIS-7"
        assert mail["Content-Language"] == "de"
        assert "Wir haben CHF 125.50 für PERMIS-7 erhalten." in parts(mail)["plain"]

        async def delivered() -> list:
            items = (
                await client.get(f"/v1/notifications?reference=event:{event.id}", headers=sender)
            ).json()["items"]
            return [n for n in items if n["status"] == "delivered"]

        [notification] = await eventually(delivered, "the rule's notification delivered")
        assert notification["source"] == "rule"
        assert len(smtp_sink.to(payer)) == 1


async def _mails(sink, to):
    return sink.to(to)


async def test_user_registered_sends_the_verification_mail_in_the_users_language(
    notify, bus, smtp_sink, tenant, identity_desk
):
    """The event names the account only; notify asks identity for the address and link."""
    email = f"new.{tenant}@vevey.ch"
    url = f"https://identity.example.ch/verify?token={tenant}"
    event = CloudEvent.new(
        service="identity",
        type="user.registered",
        tenant=tenant,
        data={"user_id": "u1", "locale": "it", "commune": "Comune di Lugano"},
    )
    identity_desk.knows(event, email, url)
    async with notify():
        await bus.publish_event(event)
        [mail] = await eventually(lambda: _mails(smtp_sink, email), "the verification mail")
        assert mail["Subject"] == "Comune di Lugano: confermi il suo indirizzo e-mail"
        assert mail["Content-Language"] == "it"
        assert url in parts(mail)["plain"]
        assert url.replace("&", "&amp;") in parts(mail)["html"]


async def test_a_mandate_confirmation_is_mailed_with_the_link_procedures_gives(
    notify, bus, smtp_sink, sender, tenant, identity_desk
):
    email = f"anna.{tenant}@vevey.ch"
    link = f"https://portal.example.ch/mandates/m1?token=MANDATE-{tenant}"
    event = CloudEvent.new(
        service="procedures",
        type="procedure.mandate.requested",
        tenant=tenant,
        data={
            "mandate_id": "m1",
            "request_id": "r1",
            "mediator": "mediator-1",
            "kind": "email",
            "status": "pending",
            "locale": "fr",
            "title": "Carte de stationnement",
            "commune": "Vevey",
        },
    )
    names = {"mediator_name": "Léa Médiatrice", "citizen_name": "Anna Muster"}
    identity_desk.knows(event, email, link, names)  # the names are not in the event
    async with notify() as client:
        await bus.publish_event(event)
        [mail] = await eventually(lambda: _mails(smtp_sink, email), "the mandate mail")
        assert link in parts(mail)["plain"] and "Léa Médiatrice" in parts(mail)["plain"]
        assert "Anna Muster" in parts(mail)["plain"]
        items = (await client.get("/v1/notifications", headers=sender)).json()["items"]
        assert items and all(item["redacted"] for item in items)  # the link is a secret
        assert "MANDATE-" not in str(items)


async def test_the_receipt_of_a_request_goes_to_the_address_procedures_gives(
    notify, bus, smtp_sink, tenant, identity_desk
):
    """``procedure.request.*`` names the request and its owner, not the address."""
    email = f"owner.{tenant}@vevey.ch"
    event = CloudEvent.new(
        service="procedures",
        type="procedure.request.submitted",
        tenant=tenant,
        data={
            "request_id": "r1",
            "reference": "VEV-2026-000001",
            "procedure": "dog-registration",
            "version": 1,
            "state": "submitted",
            "previous_state": "draft",
            "owner": "citizen-1",
            "locale": "en",
            "fee_amount": 5000,
            "currency": "CHF",
            "payment_id": None,
            "payment_status": None,
            "actor": "citizen-1",
            "note": None,
            "templates": [],
            "user_id": "citizen-1",
            "title": "Dog registration",
            "fee_display": "CHF 50.00",
            "commune": "Vevey",
            "url": "https://portal.example.ch/requests/r1",
        },
    )
    identity_desk.knows(event, email)
    async with notify():
        await bus.publish_event(event)
        [mail] = await eventually(lambda: _mails(smtp_sink, email), "the receipt")
        assert "VEV-2026-000001" in parts(mail)["plain"]
        assert event.id in identity_desk.asked


async def test_an_account_mail_identity_no_longer_has_is_not_sent(
    notify, bus, smtp_sink, sender, tenant, identity_desk
):
    """An expired link or a deleted account: identity answers gone, nothing is mailed."""
    gone = CloudEvent.new(
        service="identity",
        type="user.password_reset_requested",
        tenant=tenant,
        data={"user_id": "u-gone", "locale": "fr", "commune": "Vevey"},
    )
    later = identity_desk.knows(
        CloudEvent.new(
            service="identity",
            type="user.password_reset_requested",
            tenant=tenant,
            data={"user_id": "u2", "locale": "fr", "commune": "Vevey"},
        ),
        f"later.{tenant}@vevey.ch",
        "https://identity.example.ch/password-reset/confirm?token=x",
    )
    async with notify():
        await bus.publish_event(gone)
        await bus.publish_event(later)
        await eventually(lambda: _mails(smtp_sink, f"later.{tenant}@vevey.ch"), "the later mail")
        assert gone.id in identity_desk.asked
        assert smtp_sink.to(f"u-gone.{tenant}@vevey.ch") == []


async def test_an_event_without_recipient_is_not_silently_dropped(
    notify, admin, sender, bus, events, tenant, identity_desk
):
    async with notify() as client:
        template = await create_template(client, admin, RECEIPT)
        await client.post(
            "/v1/rules",
            json={
                "event_type": "payment.succeeded",
                "template_id": template["id"],
                "recipient_field": "data.payer_email",
            },
            headers=admin,
        )
        event = CloudEvent.new(
            service="payment",
            type="payment.succeeded",
            tenant=tenant,
            data={"payment_id": "p2", "reference": "R", "amount": 100, "currency": "CHF"},
        )
        identity_desk.knows(event, "")  # a payment without a payer address
        await bus.publish_event(event)
        [failed] = await events.wait_for("notification.failed")
        assert failed["data"]["source"] == "rule"
        assert "payer_email" in failed["data"]["error"]
        notification = (
            await client.get(
                f"/v1/notifications/{failed['data']['notification_id']}", headers=sender
            )
        ).json()
        assert notification["status"] == "permanent_failure"
        assert notification["reference"] == f"event:{event.id}"


async def test_rules_are_validated_and_belong_to_their_tenant(notify, admin, issuer):
    async with notify() as client:
        unknown = await client.post(
            "/v1/rules",
            json={"event_type": "payment.succeeded", "template_id": "0" * 32},
            headers=admin,
        )
        assert_problem(unknown, 404, "template-not-found")
        template = await create_template(client, admin, RECEIPT)
        bad_field = await client.post(
            "/v1/rules",
            json={
                "event_type": "payment.succeeded",
                "template_id": template["id"],
                "recipient_field": "tenant",
            },
            headers=admin,
        )
        assert_problem(bad_field, 422, "invalid-rule")
        rule = (
            await client.post(
                "/v1/rules",
                json={"event_type": "payment.succeeded", "template_id": template["id"]},
                headers=admin,
            )
        ).json()
        other = {
            "Authorization": "Bearer " + client_token(issuer, "another", ["notifications:admin"])
        }
        assert_problem(
            await client.delete(f"/v1/rules/{rule['id']}", headers=other), 404, "rule-not-found"
        )
        assert (await client.delete(f"/v1/rules/{rule['id']}", headers=admin)).status_code == 204
        assert (await client.get("/v1/rules", headers=admin)).json()["items"] == []
