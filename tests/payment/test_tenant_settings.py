"""Many communes in one deployment: each tenant's own creditor on its QR-bills, its own Stripe
account for its payments and webhooks; secrets sealed at rest and never shown again."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from socle.db import create_engine
from socle_dev.testing import assert_problem
from tests.support.payment import payment_body, qr_payload, service
from tests.support.stripe_standin import WEBHOOK_SECRET, sign

ADMIN = ["payments:read", "payments:write", "payments:admin"]

CREDITOR_A = {
    "iban": "CH44 3199 9123 0008 8901 2",
    "name": "Commune de Vevey",
    "street": "Rue du Simplon",
    "house_number": "16",
    "postal_code": "1800",
    "city": "Vevey",
}
CREDITOR_B = {
    "iban": "CH21 3080 8001 2345 6782 7",
    "name": "Gemeinde Thun",
    "street": "Hofstettenstrasse",
    "house_number": "14",
    "postal_code": "3600",
    "city": "Thun",
}


def other_tenant() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def stripe_keys(label: str) -> dict[str, str]:
    return {
        "secret_key": f"sk_test_{label}_" + uuid.uuid4().hex,
        "webhook_secret": f"whsec_{label}_" + uuid.uuid4().hex,
    }


async def test_two_tenants_print_their_own_creditor_on_their_qr_bills(settings_for, auth, tenant):
    second = other_tenant()
    async with service(settings_for()) as (client, _):
        for who, creditor in ((tenant, CREDITOR_A), (second, CREDITOR_B)):
            changed = await client.patch(
                "/v1/admin/settings",
                json={"creditor": creditor},
                headers=auth(ADMIN, for_tenant=who),
            )
            assert changed.status_code == 200, changed.text
            assert changed.json()["creditor"]["source"] == "tenant"
        bills = {}
        for who in (tenant, second):
            created = await client.post(
                "/v1/payments",
                json=payment_body(provider="qrbill"),
                headers=auth(for_tenant=who),
            )
            assert created.status_code == 201, created.text
            svg = await client.get(
                f"/v1/payments/{created.json()['id']}/qr-bill.svg", headers=auth(for_tenant=who)
            )
            bills[who] = qr_payload(svg.content)
            # the citizen's page names the same creditor
            page = await client.get(created.json()["next_url"].removeprefix("http://testserver"))
            assert (CREDITOR_A if who == tenant else CREDITOR_B)["name"] in page.text
        assert bills[tenant][3] == "CH4431999123000889012"
        assert bills[tenant][5:7] == ["Commune de Vevey", "Rue du Simplon"]
        assert bills[second][3] == "CH2130808001234567827"
        assert bills[second][5:7] == ["Gemeinde Thun", "Hofstettenstrasse"]

        # A third tenant without its own keeps the installation's default creditor.
        third = other_tenant()
        view = await client.get("/v1/admin/settings", headers=auth(ADMIN, for_tenant=third))
        assert view.json()["creditor"]["source"] == "default"
        assert view.json()["creditor"]["name"] == "Commune de Démo"
        # Back to the default: null.
        reset = await client.patch(
            "/v1/admin/settings", json={"creditor": None}, headers=auth(ADMIN, for_tenant=second)
        )
        assert reset.json()["creditor"]["source"] == "default"


async def test_a_bad_creditor_or_a_caller_without_the_admin_scope_is_refused(
    settings_for, auth, citizen
):
    async with service(settings_for()) as (client, _):
        bad = dict(CREDITOR_A, iban="CH93 0076 2011 6238 5295 7")  # an IBAN, not a QR-IBAN
        assert_problem(
            await client.patch("/v1/admin/settings", json={"creditor": bad}, headers=auth(ADMIN)),
            422,
            "invalid-creditor",
        )
        assert_problem(
            await client.patch("/v1/admin/settings", json={"creditor": CREDITOR_A}, headers=auth()),
            403,
            "insufficient-scope",
        )
        assert_problem(
            await client.get("/v1/admin/settings", headers=citizen("anna", scopes=ADMIN)),
            403,
            "commune-wide-only",
        )


async def test_each_tenant_pays_through_its_own_stripe_account_and_no_secret_is_returned(
    settings_for, stripe_standin, auth, tenant, payment_database
):
    settings = settings_for(
        payment_stripe_api_base=stripe_standin.url, payment_stripe_timeout_seconds=5.0
    )
    second = other_tenant()
    keys = {tenant: stripe_keys("a"), second: stripe_keys("b")}
    async with service(settings) as (client, _):
        # No account anywhere: Stripe is not offered.
        assert_problem(
            await client.post("/v1/payments", json=payment_body(provider="stripe"), headers=auth()),
            422,
            "provider-disabled",
        )
        for who, own in keys.items():
            changed = await client.patch(
                "/v1/admin/settings", json={"stripe": own}, headers=auth(ADMIN, for_tenant=who)
            )
            assert changed.status_code == 200, changed.text
            shown = changed.json()["stripe"]
            assert shown["source"] == "tenant"
            assert shown["secret_key"] == {"configured": True, "last4": own["secret_key"][-4:]}
            assert shown["webhook_url"].endswith(f"/v1/providers/stripe/webhook/{who}")
            for answer in (
                changed,
                await client.get("/v1/admin/settings", headers=auth(ADMIN, for_tenant=who)),
            ):
                assert own["secret_key"] not in answer.text
                assert own["webhook_secret"] not in answer.text

        paid = {}
        for who in keys:
            before = len(stripe_standin.api_keys)
            created = await client.post(
                "/v1/payments",
                json=payment_body(provider="stripe"),
                headers=auth(for_tenant=who),
            )
            assert created.status_code == 201, created.text
            assert stripe_standin.api_keys[before:] == [keys[who]["secret_key"]]
            session = stripe_standin.session_for(created.json()["id"])
            paid[who] = (created.json()["id"], stripe_standin.pay(session["id"]))

        # Tenant A's event, signed with A's secret, is refused on B's endpoint...
        payload = stripe_standin.event("checkout.session.completed", paid[tenant][1])
        signed_by_a = sign(payload, keys[tenant]["webhook_secret"])
        refused = await client.post(
            f"/v1/providers/stripe/webhook/{second}",
            content=payload,
            headers={"Stripe-Signature": signed_by_a, "Content-Type": "application/json"},
        )
        assert_problem(refused, 400, "invalid-signature")
        # ... and applied on A's.
        applied = await client.post(
            f"/v1/providers/stripe/webhook/{tenant}",
            content=payload,
            headers={"Stripe-Signature": signed_by_a, "Content-Type": "application/json"},
        )
        assert applied.status_code == 200 and applied.json()["outcome"] == "applied"
        # B's event signed with B's secret but sent to A's endpoint: A's secret does not match.
        payload_b = stripe_standin.event("checkout.session.completed", paid[second][1])
        assert_problem(
            await client.post(
                f"/v1/providers/stripe/webhook/{tenant}",
                content=payload_b,
                headers={
                    "Stripe-Signature": sign(payload_b, keys[second]["webhook_secret"]),
                    "Content-Type": "application/json",
                },
            ),
            400,
            "invalid-signature",
        )
        # A tenant with no Stripe account at all has no endpoint.
        assert_problem(
            await client.post(
                f"/v1/providers/stripe/webhook/{other_tenant()}",
                content=payload,
                headers={"Stripe-Signature": signed_by_a, "Content-Type": "application/json"},
            ),
            404,
            "provider-disabled",
        )

    # At rest the keys are sealed: the database never holds them in clear.
    engine = create_engine(payment_database)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT stripe_secret_key, stripe_webhook_secret FROM tenant_settings "
                        "WHERE tenant IN (:a, :b)"
                    ),
                    {"a": tenant, "b": second},
                )
            ).all()
    finally:
        await engine.dispose()
    assert len(rows) == 2
    stored = " ".join(value for row in rows for value in row)
    for own in keys.values():
        assert own["secret_key"] not in stored and own["webhook_secret"] not in stored
    assert all(value.startswith("kek1:") for row in rows for value in row)


async def test_a_tenant_with_a_connect_account_pays_and_refunds_on_it(
    settings_for, stripe_standin, auth, tenant
):
    settings = settings_for(
        payment_stripe_secret_key="sk_test_platform_" + uuid.uuid4().hex,
        payment_stripe_webhook_secret=WEBHOOK_SECRET,
        payment_stripe_api_base=stripe_standin.url,
        payment_stripe_timeout_seconds=5.0,
    )
    account = "acct_" + uuid.uuid4().hex[:16]
    plain = other_tenant()
    async with service(settings) as (client, _):
        assert_problem(
            await client.patch(
                "/v1/admin/settings",
                json={"stripe_account_id": "not-an-account"},
                headers=auth(ADMIN),
            ),
            422,
            "validation-error",
        )
        changed = await client.patch(
            "/v1/admin/settings", json={"stripe_account_id": account}, headers=auth(ADMIN)
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["stripe"]["account_id"] == account
        assert changed.json()["stripe"]["source"] == "default"  # the platform's keys

        before = len(stripe_standin.accounts)
        created = await client.post(
            "/v1/payments", json=payment_body(provider="stripe"), headers=auth()
        )
        assert created.status_code == 201, created.text
        assert stripe_standin.accounts[before:] == [account]
        paid = stripe_standin.pay(stripe_standin.session_for(created.json()["id"])["id"])
        payload = stripe_standin.event("checkout.session.completed", paid)
        applied = await client.post(
            "/v1/webhooks/stripe",
            content=payload,
            headers={"Stripe-Signature": sign(payload), "Content-Type": "application/json"},
        )
        assert applied.status_code == 200, applied.text
        before = len(stripe_standin.accounts)
        refund = await client.post(
            f"/v1/payments/{created.json()['id']}/refunds",
            json={"amount": 100},
            headers={**auth(), "Idempotency-Key": uuid.uuid4().hex},
        )
        assert refund.status_code == 201, refund.text
        assert stripe_standin.accounts[before:] and set(stripe_standin.accounts[before:]) == {
            account
        }

        # A tenant without a Connect account pays on the platform's own account.
        before = len(stripe_standin.accounts)
        other = await client.post(
            "/v1/payments", json=payment_body(provider="stripe"), headers=auth(for_tenant=plain)
        )
        assert other.status_code == 201, other.text
        assert stripe_standin.accounts[before:] == [None]

        # null: back to the platform's own account.
        reset = await client.patch(
            "/v1/admin/settings", json={"stripe_account_id": None}, headers=auth(ADMIN)
        )
        assert reset.json()["stripe"]["account_id"] is None
