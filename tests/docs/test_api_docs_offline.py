"""Each service's API documentation works without internet: the pages load Swagger UI and
ReDoc from the service itself."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from socle_dev.testing import chromium
from tests.support.platform import Platform

SERVICES = ["IDENTITY", "PAYMENT", "STORAGE", "NOTIFY", "PROCEDURES"]


def asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)


@pytest.mark.parametrize("service", SERVICES)
def test_docs_pages_load_their_scripts_from_the_service(service: str, platform: Platform):
    base = f"http://127.0.0.1:{platform.ports[service]}"
    for page, script in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = httpx.get(base + page).text
        urls = asset_urls(html)
        assert any(url.endswith(script) for url in urls), html
        assert [url for url in urls if "://" in url] == [], f"{page} loads from elsewhere"
        for url in urls:
            loaded = httpx.get(base + url)
            assert loaded.status_code == 200, url
            if url.endswith(".js"):
                assert "javascript" in loaded.headers["content-type"]
                assert len(loaded.content) > 100_000  # the whole bundle, not a stub
    spec = httpx.get(base + "/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    # A reference to a schema the document lacks breaks ReDoc ("Something went wrong").
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(spec)))
    assert refs <= set(spec["components"]["schemas"])


@pytest.mark.browser
async def test_swagger_ui_and_redoc_render_with_no_other_host_reachable(platform: Platform):
    base = f"http://127.0.0.1:{platform.ports['PAYMENT']}"
    elsewhere: list[str] = []

    async def only_the_service(route: Any) -> None:
        if route.request.url.startswith((base + "/", "blob:", "data:")):
            await route.continue_()
        else:  # as without internet
            elsewhere.append(route.request.url)
            await route.abort()

    async with chromium() as browser:
        page = await browser.new_page()
        await page.route("**/*", only_the_service)
        await page.goto(base + "/docs")
        await page.locator(".swagger-ui .info .title").filter(has_text="Socle payment").wait_for()
        assert await page.locator(".opblock-summary-path").count() > 5
        await page.goto(base + "/redoc")
        await page.locator("h1").filter(has_text="Socle payment").wait_for()
        badge = page.get_by_role("link", name="API docs by Redocly").locator("img")
        await badge.wait_for()  # its logo shows, from the page's own script
        assert (await badge.get_attribute("src") or "").startswith("data:image/")
    assert elsewhere == []
