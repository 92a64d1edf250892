"""Each service's API documentation works without internet: the pages load Swagger UI and
ReDoc from the service itself."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.docs.platform import Platform

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
    assert httpx.get(base + "/openapi.json").json()["openapi"].startswith("3.")
