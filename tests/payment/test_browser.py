"""A citizen pays on the sandbox page in headless Chromium, then lands back on the commune's
page, and the procedure sees the payment succeeded."""

from __future__ import annotations

import httpx
import pytest

from socle_dev.localinfra import free_port
from socle_dev.testing import chromium, served
from socle_payment.app import create_app
from tests.support.payment import payment_body

pytestmark = pytest.mark.browser

RETURN = "https://commune.example.ch/procedures/42/paid"


async def test_citizen_pays_in_a_real_browser(settings_for, auth):
    port = free_port()
    app = create_app(settings_for(payment_public_url=f"http://127.0.0.1:{port}"))
    async with served(app, port) as base, httpx.AsyncClient(base_url=base) as api:
        created = await api.post("/v1/payments", json=payment_body(), headers=auth())
        assert created.status_code == 201, created.text
        payment = created.json()
        async with chromium() as browser:
            page = await (await browser.new_context(locale="it-CH")).new_page()
            landed: list[str] = []

            async def commune_page(route):
                landed.append(route.request.url)
                await route.fulfill(status=200, body="Grazie")

            await page.route(f"{RETURN}*", commune_page)
            await page.goto(payment["next_url"])
            assert "CHF 150.00" in await page.content()
            await page.fill("input[name=card_number]", "4000 0000 0000 0002")
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{RETURN}*")
            # Declined: the payment failed; the citizen was sent back, not charged.
            assert landed == [RETURN]
            declined = (await api.get(f"/v1/payments/{payment['id']}", headers=auth())).json()
            assert declined["status"] == "failed"

            second = (await api.post("/v1/payments", json=payment_body(), headers=auth())).json()
            await page.goto(second["next_url"])
            await page.fill("input[name=card_number]", "4242 4242 4242 4242")
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{RETURN}*")
        paid = (await api.get(f"/v1/payments/{second['id']}", headers=auth())).json()
        assert paid["status"] == "succeeded"
        assert paid["amount_captured"] == 15000
