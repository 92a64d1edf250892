"""Whose notifications, played as the attacker: a citizen reads only the citizen's own
notifications, never sends, and nobody reads a password-reset link through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from socle.bus import Bus
from socle.events import CloudEvent
from socle_dev.testing import assert_problem, eventually
from socle_notify.models import Notification
from tests.support.notify import client_token, create_template, email_template, parts, person_token

READ = ["notifications:read"]
#: What the issue found: a public client registered with notifications:send gave a citizen
#: that scope. Identity no longer grants it; notify refuses it to a person anyway.
TOO_MUCH = ["notifications:read", "notifications:send", "notifications:admin"]

NOTE = email_template(
    fr={"subject": "Votre dossier ((reference))", "body": "Dossier ((reference)) reçu."}
)


@pytest.fixture
async def bus(nats_server) -> AsyncIterator[Bus]:
    publisher = Bus(url=nats_server.url, name="test-publisher")
    await publisher.connect()
    yield publisher
    await publisher.close()


def mailbox(tenant: str, who: str) -> str:
    return f"{who}.{tenant}@vevey.ch"


async def send(client, headers, template_id: str, to: str, subject: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "template_id": template_id,
        "to": to,
        "personalisation": {"reference": to.split("@")[0]},
    }
    if subject is not None:
        body["recipient_subject"] = subject
    response = await client.post("/v1/notifications/email", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_citizen_reads_only_their_own_notifications(notify, admin, sender, issuer, tenant):
    anna = person_token(issuer, tenant, "citizen-anna", ("citizen",), READ)
    async with notify() as client:
        template = await create_template(client, admin, NOTE)
        own = await send(client, sender, template["id"], mailbox(tenant, "anna"), "citizen-anna")
        brunos = await send(
            client, sender, template["id"], mailbox(tenant, "bruno"), "citizen-bruno"
        )
        await send(client, sender, template["id"], mailbox(tenant, "clerk"), None)
        assert own["recipient_subject"] == "citizen-anna" and own["redacted"] is False

        listed = (await client.get("/v1/notifications", headers=anna)).json()["items"]
        assert [n["id"] for n in listed] == [own["id"]]
        filtered = await client.get(
            "/v1/notifications", params={"template_id": template["id"]}, headers=anna
        )
        assert [n["id"] for n in filtered.json()["items"]] == [own["id"]]
        assert (await client.get(f"/v1/notifications/{own['id']}", headers=anna)).status_code == 200
        assert_problem(
            await client.get(f"/v1/notifications/{brunos['id']}", headers=anna),
            404,
            "notification-not-found",
        )

        # The commune (its services, an agent reading) sees the three of them.
        agent = person_token(issuer, tenant, "agent-1", ("agent",), READ)
        for commune in (sender, agent):
            every = (await client.get("/v1/notifications", headers=commune)).json()["items"]
            assert len(every) == 3
        # Without a notify scope, nothing.
        nothing = person_token(issuer, tenant, "citizen-anna", ("citizen",), [])
        assert_problem(
            await client.get("/v1/notifications", headers=nothing), 403, "insufficient-scope"
        )


async def test_a_person_never_sends_nor_manages_even_with_the_scopes(
    notify, admin, issuer, tenant, endpoint
):
    citizen = person_token(issuer, tenant, "citizen-anna", ("citizen",), TOO_MUCH)
    mediator = person_token(issuer, tenant, "mediator-1", ("mediator",), TOO_MUCH)
    async with notify() as client:
        template = await create_template(client, admin, NOTE)
        attempts = [
            ("POST", "/v1/notifications/email", {"template_id": template["id"], "to": "x@y.ch"}),
            (
                "POST",
                "/v1/notifications/sms",
                {"template_id": template["id"], "to": "+41791234567"},
            ),
            (
                "POST",
                "/v1/batches",
                {"template_id": template["id"], "recipients": [{"to": "x@y.ch"}]},
            ),
            ("GET", "/v1/batches/" + "0" * 32, None),
            ("GET", "/v1/templates", None),
            ("GET", f"/v1/templates/{template['id']}", None),
            ("POST", "/v1/templates", NOTE),
            ("GET", "/v1/rules", None),
            (
                "POST",
                "/v1/rules",
                {"event_type": "payment.succeeded", "template_id": template["id"]},
            ),
            ("GET", "/v1/subscriptions", None),
            ("POST", "/v1/subscriptions", {"callback_url": endpoint.url, "event_types": ["*"]}),
            ("GET", "/v1/webhook-deliveries", None),
        ]
        for headers in (citizen, mediator):
            for method, path, body in attempts:
                response = await client.request(method, path, json=body, headers=headers)
                assert_problem(response, 403, "commune-wide-only")
        assert (await client.get("/v1/subscriptions", headers=admin)).json()["items"] == []
        assert (await client.get("/v1/notifications", headers=admin)).json()["items"] == []


async def test_the_reset_link_is_mailed_but_never_readable_through_the_api(
    notify, admin, sender, issuer, bus, smtp_sink, tenant, endpoint, identity_desk
):
    """The issue's chain: a citizen asks a reset for someone's address and reads the link."""
    victim = mailbox(tenant, "agent")
    link = f"https://identity.example.ch/password-reset/confirm?token=SECRET-{tenant}"
    verify = f"https://identity.example.ch/verify?token=VERIFY-{tenant}"
    attacker = person_token(issuer, tenant, "citizen-eve", ("citizen",), TOO_MUCH)
    owner = person_token(issuer, tenant, "agent-1", ("agent",), READ)
    self_reader = person_token(issuer, tenant, "citizen-new", ("citizen",), READ)
    async with notify() as client:
        hook = await client.post(
            "/v1/subscriptions",
            json={"callback_url": endpoint.url, "event_types": ["user.*"]},
            headers=admin,
        )
        assert hook.status_code == 201, hook.text
        reset = CloudEvent.new(
            service="identity",
            type="user.password_reset_requested",
            tenant=tenant,
            data={"user_id": "agent-1", "locale": "fr", "commune": "Commune de Vevey"},
        )
        registered = CloudEvent.new(
            service="identity",
            type="user.registered",
            tenant=tenant,
            data={"user_id": "citizen-new", "locale": "de"},
        )
        identity_desk.knows(reset, victim, link)
        identity_desk.knows(registered, mailbox(tenant, "new"), verify)
        await bus.publish_event(reset)
        await bus.publish_event(registered)
        [mail] = await eventually(lambda: _mails(smtp_sink, victim), "the reset mail")
        assert link in parts(mail)["plain"]  # the owner of the mailbox gets the link
        assert mail["Subject"].startswith("Commune de Vevey")  # every mail names its commune
        assert parts(mail)["plain"].rstrip().endswith("Commune de Vevey")
        [welcome] = await eventually(
            lambda: _mails(smtp_sink, mailbox(tenant, "new")), "the verification mail"
        )
        assert verify in parts(welcome)["plain"]
        assert tenant in welcome["Subject"]  # an event without the name: the commune's slug

        async def both_delivered() -> list:
            items = (await client.get("/v1/notifications", headers=sender)).json()["items"]
            done = [n for n in items if n["status"] == "delivered"]
            return done if len(done) == 2 else []

        await eventually(both_delivered, "both identity mails delivered")

        # The attacker, even holding notifications:send, sees neither of them.
        assert (await client.get("/v1/notifications", headers=attacker)).json()["items"] == []
        # Nobody reads the link: not the commune, not the mailbox's owner, by list or by id.
        for reader in (sender, admin, owner, self_reader):
            items = (await client.get("/v1/notifications", headers=reader)).json()["items"]
            assert items, "each reader sees at least its own"
            for item in items:
                assert item["redacted"] is True
                one = (await client.get(f"/v1/notifications/{item['id']}", headers=reader)).json()
                for shown in (str(item), str(one)):
                    assert "SECRET-" not in shown and "VERIFY-" not in shown
        mine = (await client.get("/v1/notifications", headers=self_reader)).json()["items"]
        assert [n["recipient_subject"] for n in mine] == ["citizen-new"]
        assert mine[0]["subject"] == f"{tenant}: Bestätigen Sie Ihre E-Mail-Adresse"
        assert mine[0]["status"] == "delivered"

        # Nor is the sealed text kept once the mail is out.
        runtime = client.app.state.runtime
        async with runtime.sessions() as session:
            rows = (
                await session.execute(select(Notification).where(Notification.tenant == tenant))
            ).scalars()
            for row in rows:
                assert row.secret and row.sealed_body is None and row.sealed_html is None
                assert "SECRET-" not in row.body and "VERIFY-" not in row.body

        # The commune's webhook hears that a reset was asked, without the link.
        async def hooks() -> list:
            return endpoint.requests if len(endpoint.requests) >= 2 else []

        calls = await eventually(hooks, "the two webhook calls")
        for call in calls:
            assert b"SECRET-" not in call.body and b"VERIFY-" not in call.body
            assert b"agent-1" in call.body or b"citizen-new" in call.body


async def test_a_template_flagged_secret_is_sent_but_not_shown(
    notify, admin, sender, smtp_sink, tenant
):
    invitation = email_template(
        fr={"subject": "Invitation", "body": "Rejoignez-nous : ((link))"}
    ) | {"secret": True}
    to = mailbox(tenant, "invitee")
    async with notify() as client:
        template = await create_template(client, admin, invitation)
        assert template["secret"] is True
        response = await client.post(
            "/v1/notifications/email",
            json={
                "template_id": template["id"],
                "to": to,
                "personalisation": {"link": "https://x.example/invite?code=INVITE-1"},
            },
            headers=sender,
        )
        assert response.status_code == 201, response.text
        assert response.json()["redacted"] is True
        assert "INVITE-1" not in response.text
        [mail] = await eventually(lambda: _mails(smtp_sink, to), "the invitation")
        assert "INVITE-1" in parts(mail)["plain"]
        got = await client.get(f"/v1/notifications/{response.json()['id']}", headers=sender)
        assert "INVITE-1" not in got.text
        # Turning the flag off applies to messages sent from then on only.
        off = await client.put(
            f"/v1/templates/{template['id']}",
            json={"secret": False, "contents": {"fr": {"subject": "Hi", "body": "((link))"}}},
            headers=admin,
        )
        assert off.status_code == 200 and off.json()["secret"] is False
        again = await client.get(f"/v1/notifications/{response.json()['id']}", headers=sender)
        assert "INVITE-1" not in again.text


async def _mails(sink, to):
    return sink.to(to)


async def test_another_tenants_client_reads_nothing(notify, sender, issuer, tenant, admin):
    async with notify() as client:
        template = await create_template(client, admin, NOTE)
        sent = await send(client, sender, template["id"], mailbox(tenant, "anna"), "citizen-anna")
        other = {
            "Authorization": "Bearer " + client_token(issuer, "elsewhere", ["notifications:send"])
        }
        assert_problem(
            await client.get(f"/v1/notifications/{sent['id']}", headers=other),
            404,
            "notification-not-found",
        )
