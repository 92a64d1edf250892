"""The payment service as an operator and a reviewer see it: authentication on every route,
migrations on SQLite (what make run uses), settings refusing unsafe production values."""

from __future__ import annotations

import re

import pytest

from socle.migrations import upgrade
from socle_dev.testing import assert_problem, running
from socle_payment.__main__ import MIGRATIONS
from socle_payment.app import PUBLIC_ROUTES, create_app
from socle_payment.settings import PaymentSettings
from tests.support.html import csrf_of
from tests.support.infra import in_thread
from tests.support.payment import payment_body, service

ALWAYS_PUBLIC = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc"}


async def test_every_private_route_wants_a_token_and_the_spec_lists_its_problems(settings_for):
    async with service(settings_for()) as (client, _):
        # Walk the published paths: included routers are not plain APIRoutes in app.routes.
        spec = (await client.get("/openapi.json")).json()
        checked = []
        for template, operations in spec["paths"].items():
            if template in ALWAYS_PUBLIC | PUBLIC_ROUTES:
                continue
            path = re.sub(r"\{[^}]+\}", "0" * 32, template)
            for method in operations:
                assert_problem(await client.request(method, path), 401, "missing-token")
                checked.append(f"{method} {template}")
        assert len(checked) == 16, checked  # retention, legal holds, admin settings included
        assert set(PUBLIC_ROUTES) <= set(spec["paths"])
        create = spec["paths"]["/v1/payments"]["post"]
        assert {"201", "401", "403", "422"} <= set(create["responses"])
        assert "Idempotency-Key" in [p["name"] for p in create["parameters"]]
        assert "application/xml" in str(spec["paths"]["/v1/reconciliations/camt054"])


async def test_the_service_runs_on_sqlite_as_make_run_does(tmp_path, nats_server, issuer):
    url = f"sqlite+aiosqlite:///{tmp_path / 'payment.db'}"
    in_thread(upgrade, MIGRATIONS, url)
    settings = PaymentSettings(
        database_url=url,
        nats_url=nats_server.url,
        issuer=issuer.issuer,
        jwks_url=issuer.jwks_url,
        payment_public_url="http://testserver",
        payment_expiry_sweep_seconds=0,
    )
    token = issuer.token(audience="socle-payment", tenant="demo", scopes=["payments:write"])
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "sqlite-1"}
    async with running(create_app(settings)) as client:
        created = await client.post("/v1/payments", json=payment_body(), headers=headers)
        assert created.status_code == 201, created.text
        replay = await client.post("/v1/payments", json=payment_body(), headers=headers)
        assert replay.json()["id"] == created.json()["id"]
        path = created.json()["next_url"].removeprefix("http://testserver")
        page = await client.get(path)
        paid = await client.post(
            path, data={"card_number": "4242424242424242", "csrf_token": csrf_of(page.text)}
        )
        assert paid.status_code == 303
        read = issuer.token(audience="socle-payment", tenant="demo", scopes=["payments:read"])
        got = await client.get(
            f"/v1/payments/{created.json()['id']}", headers={"Authorization": f"Bearer {read}"}
        )
        assert got.json()["status"] == "succeeded"


def test_production_refuses_the_sandbox_and_the_demo_iban():
    with pytest.raises(ValueError, match="SOCLE_PAYMENT_SANDBOX_ENABLED"):
        PaymentSettings(environment="production")
    with pytest.raises(ValueError, match="SOCLE_PAYMENT_PUBLIC_URL"):
        PaymentSettings(environment="production", payment_sandbox_enabled=False)
    safe = {
        "payment_sandbox_enabled": False,
        "payment_public_url": "https://pay.vevey.ch",
        "database_url": "postgresql+asyncpg://payment@db/payment",
        "issuer": "https://login.vevey.ch",
    }
    with pytest.raises(ValueError, match="SOCLE_PAYMENT_CREDITOR_IBAN"):
        PaymentSettings(environment="production", **safe)
    with pytest.raises(ValueError, match="SOCLE_PAYMENT_STRIPE_WEBHOOK_SECRET"):
        PaymentSettings(
            environment="production",
            payment_creditor_iban="CH21 3080 8001 2345 6782 7",
            payment_stripe_secret_key="sk_live_x",
            **safe,
        )
    ok = PaymentSettings(
        environment="production", payment_creditor_iban="CH21 3080 8001 2345 6782 7", **safe
    )
    assert ok.payment_max_amount == 1_000_000
    assert ok.payment_creditor_iban == "CH2130808001234567827"
    with pytest.raises(ValueError, match="QR-IBAN"):
        PaymentSettings(payment_creditor_iban="CH93 0076 2011 6238 5295 7")  # not a QR-IBAN
    with pytest.raises(ValueError, match="QR-IBAN"):
        PaymentSettings(payment_creditor_iban="CH44 3199 9123 0008 8901 3")  # bad check digits


async def test_a_production_service_does_not_offer_the_sandbox(settings_for, auth):
    settings = settings_for(payment_sandbox_enabled=False)
    async with service(settings) as (client, _):
        refused = await client.post("/v1/payments", json=payment_body(), headers=auth())
        assert_problem(refused, 422, "unknown-provider")
        webhook = await client.post("/v1/webhooks/stripe", content=b"{}")
        assert_problem(webhook, 404, "provider-disabled")
