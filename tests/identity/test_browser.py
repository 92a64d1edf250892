"""A person logs in through the real login page in headless Chromium, served over HTTP."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from socle_dev.localinfra import free_port
from socle_dev.testing import chromium, served
from socle_identity import directory
from socle_identity.app import create_app
from tests.support.identity import (
    PASSWORD,
    REDIRECT,
    pkce_pair,
    query,
    quick_settings,
    redeem_code,
    tenant_with_client,
)

pytestmark = pytest.mark.browser


async def test_login_page_in_chromium(migrated_database, nats_server, tenant):
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    app = create_app(quick_settings(migrated_database("identity"), nats_server.url, issuer))
    async with served(app, port):
        client, secret = await tenant_with_client(
            app.state.runtime.sessions,
            tenant,
            directory.ClientSpec(
                name="Guichet de la commune", redirect_uris=[REDIRECT], scopes=["openid", "email"]
            ),
            name="Commune",
            passwords=app.state.runtime.context.provider.passwords,
            users=[{"email": "hanna@example.ch", "password": PASSWORD, "roles": ["citizen"]}],
        )
        verifier, challenge = pkce_pair()
        url = f"{issuer}/authorize?" + urlencode(
            {
                "response_type": "code",
                "client_id": client.client_id,
                "redirect_uri": REDIRECT,
                "scope": "openid email",
                "state": "browser-state",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        async with chromium() as browser:
            context = await browser.new_context(locale="de-CH")
            page = await context.new_page()
            landed: list[str] = []

            async def app_callback(route):
                landed.append(route.request.url)
                await route.fulfill(status=200, body="back in the app")

            await page.route(f"{REDIRECT}*", app_callback)
            await page.goto(url)
            assert await page.locator("h1").inner_text() == "Anmeldung"
            assert "Guichet de la commune" in await page.content()
            await page.fill("#email", "hanna@example.ch")
            await page.fill("#password", "wrong password!")
            await page.click("button[type=submit]")
            assert "falsch" in await page.locator("[role=alert]").inner_text()
            await page.click("a[hreflang=en]")  # the language switch
            assert await page.locator("h1").inner_text() == "Log in"
            await page.fill("#email", "hanna@example.ch")
            await page.fill("#password", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{REDIRECT}*")
        assert len(landed) == 1
        params = query(landed[0])
        assert params["state"] == "browser-state"
        async with httpx.AsyncClient(base_url=issuer) as rp:
            tokens = await redeem_code(rp, params["code"], verifier, (client.client_id, secret))
        assert tokens.status_code == 200, tokens.text
        assert tokens.json()["id_token"]
