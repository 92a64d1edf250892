"""``/docs`` and ``/redoc`` ask no other host for anything (``socle.apidocs``): their pages,
and the scripts they load, name only the service's own assets."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from socle.apidocs import install_api_docs

ELSEWHERE = re.compile(rb"https?://(?!127\.0\.0\.1[:/]|testserver[:/])[^\s\"'<>)]+")


def app() -> FastAPI:
    built = FastAPI(title="Socle example", docs_url=None, redoc_url=None)
    install_api_docs(built)
    return built


def loaded_urls(html: str) -> list[str]:
    """What a page makes the browser fetch: script, link and img sources, Swagger's spec."""
    return re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)


async def get(path: str) -> httpx.Response:
    """``path`` from the service behind a proxy that serves it under ``/payment``."""
    transport = httpx.ASGITransport(app=app(), root_path="/payment")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path)


async def test_the_pages_load_only_the_services_own_assets() -> None:
    for page in ("/docs", "/redoc"):
        html = (await get("/payment" + page)).text
        urls = loaded_urls(html)
        assert urls, html
        assert [u for u in urls if "://" in u or not u.startswith("/payment/")] == [], page
        for url in urls:
            if url.startswith("/payment/docs/assets/"):
                assert (await get(url)).status_code == 200, url


async def test_swagger_ui_sends_the_document_to_no_validator() -> None:
    html = (await get("/payment/docs")).text
    assert '"validatorUrl": null' in html


async def test_redocs_badge_shows_a_logo_from_its_own_script() -> None:
    script = await get("/payment/docs/assets/redoc.standalone.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert len(script.content) > 100_000  # the whole bundle
    assert b"cdn.redoc.ly" not in script.content
    images = re.findall(rb'createElement\("img",\{[^}]*src:"([^"]+)"', script.content)
    assert images and all(src.startswith(b"data:image/") for src in images), images


async def test_no_image_of_either_script_comes_from_another_host() -> None:
    for name in ("redoc.standalone.js", "swagger-ui-bundle.js"):
        script = (await get(f"/payment/docs/assets/{name}")).content
        images = re.findall(rb'"img",\{[^}]*src:"([^"]+)"', script)
        assert [src for src in images if ELSEWHERE.match(src)] == [], name
