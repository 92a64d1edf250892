"""The shared layout: a Jinja2 environment with Socle's base page and components, the
stylesheet route, and the security headers every citizen page carries."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from socle.web.i18n import LANGUAGE_NAMES, LANGUAGES, LAYOUT_TEXTS, format_money, localized

HERE = Path(__file__).parent
ASSETS_PATH = "/assets/socle"
"""Where :func:`assets_router` serves the stylesheet (``/assets/socle/socle.css``)."""


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def _luminance(colour: str) -> float:
    digits = colour.lstrip("#")
    r, g, b = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@dataclass(frozen=True)
class Commune:
    """What the header and footer show: the commune's name, colour and links."""

    name: str
    colour: str = "#1d4e89"
    home_url: str = "/"
    contact_url: str = ""
    privacy_url: str = ""

    @property
    def on_colour(self) -> str:
        """White or near-black text on the commune's colour, whichever reads better."""
        return "#ffffff" if contrast(self.colour, "#ffffff") >= 4.5 else "#0b0c0c"


def templates(*loaders: BaseLoader, directory: Path | None = None) -> Environment:
    """A Jinja2 environment that finds the service's templates first, then Socle's
    (``socle/base.html``, ``socle/components.html``)."""
    chain: list[BaseLoader] = list(loaders)
    if directory is not None:
        chain.append(FileSystemLoader(directory))
    chain.append(FileSystemLoader(HERE / "templates"))
    env = Environment(
        loader=ChoiceLoader(chain),
        autoescape=select_autoescape(["html", "xml"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["localized"] = localized
    env.globals["money"] = format_money
    env.globals["assets"] = ASSETS_PATH
    env.globals["languages"] = LANGUAGES
    env.globals["language_names"] = LANGUAGE_NAMES
    env.globals["layout_texts"] = LAYOUT_TEXTS
    return env


def security_headers(nonce: str, *, form_action: str = "'self'") -> dict[str, str]:
    """Headers of a citizen page: no caching, no framing, a strict CSP with ``nonce``."""
    return {
        "Cache-Control": "no-store",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": (
            f"default-src 'self'; img-src 'self' data:; style-src 'self' 'nonce-{nonce}'; "
            f"script-src 'none'; form-action {form_action}; frame-ancestors 'none'; "
            "base-uri 'none'"
        ),
    }


def render(
    env: Environment,
    name: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    form_action: str = "'self'",
) -> HTMLResponse:
    """Render a page with a fresh CSP nonce (the commune's colours are an inline style)."""
    nonce = secrets.token_urlsafe(16)
    html = env.get_template(name).render(nonce=nonce, **context)
    return HTMLResponse(
        html, status_code=status, headers=security_headers(nonce, form_action=form_action)
    )


def assets_router() -> APIRouter:
    """``GET /assets/socle/socle.css``: the stylesheet of every citizen page."""
    router = APIRouter(include_in_schema=False)
    css = (HERE / "assets" / "socle.css").read_bytes()

    @router.get(f"{ASSETS_PATH}/socle.css")
    async def stylesheet() -> Response:
        return Response(
            css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
        )

    return router
