"""Many communes in one deployment: each tenant's mails come from its own name and address,
with its own Reply-To; a tenant without one keeps the installation's sender."""

from __future__ import annotations

import uuid

from socle_dev.testing import assert_problem, eventually
from tests.support.notify import client_token, create_template, email_template

TEMPLATE = email_template(fr={"subject": "Avis", "body": "Bonjour ((name))."})


async def send(client, admin, sender, to):
    template = await create_template(client, admin, TEMPLATE)
    sent = await client.post(
        "/v1/notifications/email",
        json={"template_id": template["id"], "to": to, "personalisation": {"name": "Anna"}},
        headers=sender,
    )
    assert sent.status_code == 201, sent.text
    return sent.json()


async def test_each_tenant_mails_from_its_own_sender(
    notify, admin, sender, smtp_sink, issuer, tenant
):
    other = f"t{uuid.uuid4().hex[:10]}"
    other_admin = {
        "Authorization": "Bearer "
        + client_token(issuer, other, ["notifications:admin", "notifications:send"])
    }
    async with notify() as client:
        before = (await client.get("/v1/admin/sender", headers=admin)).json()
        assert before["source"] == "default"
        assert before["from_address"] == "noreply@commune.ch"
        changed = await client.put(
            "/v1/admin/sender",
            json={
                "from_name": "Commune de Vevey",
                "from_address": "guichet@vevey.ch",
                "reply_to": "greffe@vevey.ch",
            },
            headers=admin,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["source"] == "tenant"

        to_mine = f"anna.{tenant}@example.ch"
        to_other = f"anna.{other}@example.ch"
        await send(client, admin, sender, to_mine)
        await send(client, other_admin, other_admin, to_other)
        [mine] = await eventually(lambda: _mails(smtp_sink, to_mine), "the tenant's mail")
        [theirs] = await eventually(lambda: _mails(smtp_sink, to_other), "the other's mail")
        assert mine["From"] == "Commune de Vevey <guichet@vevey.ch>"
        assert mine["Reply-To"] == "greffe@vevey.ch"
        assert mine["Message-ID"].endswith("@vevey.ch>")
        assert theirs["From"] == "Commune <noreply@commune.ch>"
        assert theirs["Reply-To"] is None

        assert_problem(
            await client.put(
                "/v1/admin/sender",
                json={"from_name": "Evil\r\nBcc: x@y.ch", "from_address": "a@vevey.ch"},
                headers=admin,
            ),
            422,
            "invalid-sender",
        )
        assert_problem(
            await client.put(
                "/v1/admin/sender",
                json={"from_name": "Vevey", "from_address": "not an address"},
                headers=admin,
            ),
            422,
            "invalid-sender",
        )
        forbidden = await client.put(
            "/v1/admin/sender",
            json={"from_name": "Vevey", "from_address": "a@vevey.ch"},
            headers=sender,
        )
        assert forbidden.status_code == 403

        back = await client.delete("/v1/admin/sender", headers=admin)
        assert back.json()["source"] == "default"


async def _mails(sink, to):
    return sink.to(to)
