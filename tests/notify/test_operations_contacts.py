"""Each commune says where its alerts go (its operations contacts), through the admin API and
without a restart; a commune without its own keeps the installation's address."""

from __future__ import annotations

from socle_dev.testing import assert_problem, eventually
from tests.support.notify import TEMPLATE, address, create_template, parts


async def mails(sink, to):
    return sink.to(to)


async def fail_for_good(client, admin, sender, smtp_sink, events, tenant) -> str:
    """A mail of ``tenant`` that fails for good; its id."""
    template = await create_template(client, admin, TEMPLATE)
    smtp_sink.refuse = True
    try:
        created = await client.post(
            "/v1/notifications/email",
            json={
                "template_id": template["id"],
                "to": address(tenant),
                "personalisation": {"name": "A", "reference": "R"},
            },
            headers=sender,
        )
        assert created.status_code == 201, created.text
        notification = created.json()["id"]
        await events.wait_for("notification.failed", notification_id=notification)
    finally:
        smtp_sink.refuse = False
    return str(notification)


async def test_alerts_go_to_the_tenants_own_contacts_then_back_to_the_default(
    notify, admin, sender, smtp_sink, events, tenant
):
    default = f"ops.{tenant}@canton.ch"
    own = [f"it.{tenant}@vevey.ch", f"greffe.{tenant}@vevey.ch"]
    async with notify(max_attempts=2, tenant_operations_emails={tenant: default}) as client:
        shown = await client.get("/v1/admin/operations-contacts", headers=admin)
        assert shown.json() == {"tenant": tenant, "source": "default", "emails": [default]}
        changed = await client.put(
            "/v1/admin/operations-contacts", json={"emails": own}, headers=admin
        )
        assert changed.status_code == 200, changed.text
        assert changed.json() == {"tenant": tenant, "source": "tenant", "emails": own}

        first = await fail_for_good(client, admin, sender, smtp_sink, events, tenant)
        for contact in own:
            [alert] = await eventually(lambda c=contact: mails(smtp_sink, c), f"alert to {contact}")
            assert "failed for good" in alert["Subject"]
            assert first in parts(alert)["plain"]
        assert smtp_sink.to(default) == []

        back = await client.delete("/v1/admin/operations-contacts", headers=admin)
        assert back.json() == {"tenant": tenant, "source": "default", "emails": [default]}
        await fail_for_good(client, admin, sender, smtp_sink, events, tenant)
        await eventually(lambda: mails(smtp_sink, default), "the alert to the default address")
        assert all(len(smtp_sink.to(contact)) == 1 for contact in own)


async def test_bad_contacts_and_callers_without_the_admin_scope_are_refused(notify, admin, sender):
    async with notify() as client:
        assert_problem(
            await client.put(
                "/v1/admin/operations-contacts",
                json={"emails": ["it@vevey.ch", "not an address"]},
                headers=admin,
            ),
            422,
            "invalid-contacts",
        )
        assert_problem(
            await client.put("/v1/admin/operations-contacts", json={"emails": []}, headers=admin),
            422,
            "validation-error",
        )
        assert_problem(
            await client.put(
                "/v1/admin/operations-contacts", json={"emails": ["it@vevey.ch"]}, headers=sender
            ),
            403,
            "insufficient-scope",
        )
