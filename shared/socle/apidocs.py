"""API documentation pages that work without internet: Swagger UI at ``/docs`` and ReDoc at
``/redoc``, their scripts and styles served by the service itself from the files the
``fastapi-offline`` distribution ships (FastAPI's defaults load them from a CDN).

Neither page asks another host for anything: Swagger UI's validator badge (which would send the
document's URL to ``validator.swagger.io``) is off, and ReDoc's "API docs by Redocly" badge
shows a logo embedded in its script instead of one from Redocly's CDN."""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

ASSETS_PATH = "/docs/assets"
"""Where the Swagger UI and ReDoc files are served (a mount: no route, no token check)."""


def assets_dir() -> Path:
    """The folder holding ``swagger-ui-bundle.js``, ``swagger-ui.css``,
    ``redoc.standalone.js`` and ``favicon.png``."""
    return Path(str(files("fastapi_offline") / "static"))


REDOC_JS = "redoc.standalone.js"
REDOC_BADGE_CDN = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
"""The logo of ReDoc's badge, as its script names it."""

REDOC_BADGE = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#d4213d"/>'
    '<path d="M5 12V4h3.4a2.3 2.3 0 0 1 .5 4.5L11 12H9.2L7.3 8.7H6.5V12z'
    'M6.5 7.4h1.8a1 1 0 0 0 0-2H6.5z" fill="#fff"/></svg>'
)
"""A stand-in for Redocly's mini logo, written into the script as a ``data:`` URL."""


@functools.cache
def redoc_script() -> bytes:
    """ReDoc's script with its badge's logo embedded: nothing loaded from Redocly's CDN."""
    script = (assets_dir() / REDOC_JS).read_bytes()
    if REDOC_BADGE_CDN not in script:  # another ReDoc: the tests say what it loads now
        return script
    embedded = "data:image/svg+xml," + quote(REDOC_BADGE, safe="")
    return script.replace(REDOC_BADGE_CDN, embedded.encode())


class DocAssets(StaticFiles):
    """The files of ``fastapi-offline``, ReDoc's script as :func:`redoc_script` gives it."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path == REDOC_JS and scope["method"] in ("GET", "HEAD"):
            return Response(
                redoc_script() if scope["method"] == "GET" else b"",
                media_type="text/javascript",
                headers={"cache-control": "public, max-age=3600"},
            )
        return await super().get_response(path, scope)


def install_api_docs(app: FastAPI) -> None:
    """Serve ``/docs``, ``/docs/oauth2-redirect`` and ``/redoc`` from local assets.

    The application must be built with ``docs_url=None, redoc_url=None``."""
    app.mount(ASSETS_PATH, DocAssets(directory=assets_dir()), name="api-docs-assets")
    oauth2_redirect = "/docs/oauth2-redirect"

    def prefix(request: Request) -> str:
        root: str = request.scope.get("root_path", "")
        return root.rstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = prefix(request)
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{oauth2_redirect}",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = prefix(request)
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/{REDOC_JS}",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
