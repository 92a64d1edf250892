"""What the agents' pages share: the page dependency, their templates and texts, the check
that the visitor is staff, and the CSRF-checked form."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment

from socle.problems import DomainError
from socle.web import templates
from socle_procedures.backoffice.texts import TEXTS
from socle_procedures.pagekit import render_page
from socle_procedures.portal import sessions
from socle_procedures.portal.auth import current_page, to_login
from socle_procedures.portal.context import Page
from socle_procedures.portal.texts import TEXTS as PORTAL_TEXTS

PageDep = Annotated[Page, Depends(current_page)]
ENV: Environment = templates(directory=Path(__file__).parent / "templates")


def office_texts(page: Page) -> dict[str, str]:
    return PORTAL_TEXTS[page.lang] | TEXTS[page.lang]


def render_office(
    page: Page, name: str, label: str, status: int = 200, **values: Any
) -> HTMLResponse:
    t = office_texts(page)
    return render_page(
        page,
        ENV,
        name,
        f"{label} - {t['back_office']}",
        t,
        [("/back-office", t["requests"])],
        status,
        **values,
    )


def refusal(page: Page) -> Response | None:
    """Not logged in: to identity; logged in but not staff: 403 (a citizen learns nothing)."""
    if page.principal is None or page.session is None:
        return to_login(page.request)
    if not page.principal.is_staff:
        t = office_texts(page)
        return render_office(page, "message.html", t["back_office"], 403, heading=t["staff_only"])
    return None


def problem_page(page: Page, error: DomainError) -> Response:
    t = office_texts(page)
    if error.status == 404:
        return render_office(
            page, "message.html", t["not_found"], 404, heading=t["not_found"], text=""
        )
    return page.problem(error)


async def checked_form(page: Page) -> tuple[Any, Response | None]:
    form = await page.request.form()
    if (refused := refusal(page)) is not None:
        return form, refused
    if not sessions.csrf_ok(page.csrf, str(form.get("csrf_token", ""))):
        return form, page.message(page.t["csrf"], status=403, link=page.request.url.path)
    return form, None
