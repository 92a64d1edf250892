"""Rendering for page families beside the citizen portal (back-office, mediation): the
shared layout with their own templates and texts, in the person's language."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi.responses import HTMLResponse
from jinja2 import Environment

from socle.web import render
from socle.web.i18n import LAYOUT_TEXTS, localized
from socle_procedures.portal.context import Page


def render_page(
    page: Page,
    env: Environment,
    name: str,
    page_title: str,
    texts: dict[str, str],
    nav: list[tuple[str, str]],
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    here = page.request.url.path
    context = {
        "lang": page.lang,
        "t": texts,
        "lt": LAYOUT_TEXTS[page.lang],
        "commune": page.portal.commune,
        "page_title": page_title,
        "nav": nav,
        "csrf": page.csrf,
        "lang_url": lambda code: f"/lang/{code}?next={quote(here)}",
        "localized": localized,
        **values,
    }
    return render(env, name, context, status=status)
