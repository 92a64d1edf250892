"""The citizen confirms a mandate from the e-mailed link, sees the mandates given and
revokes them. The same use cases as ``/v1/mandates``; forms work without JavaScript."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment

from socle.problems import DomainError
from socle.service import SessionDep
from socle.web import templates
from socle_procedures import mandates
from socle_procedures.mediation.texts import TEXTS
from socle_procedures.pagekit import render_page
from socle_procedures.portal import sessions
from socle_procedures.portal.auth import current_page, to_login
from socle_procedures.portal.context import Page
from socle_procedures.portal.texts import TEXTS as PORTAL_TEXTS

router = APIRouter(include_in_schema=False)
PageDep = Annotated[Page, Depends(current_page)]
ENV: Environment = templates(directory=Path(__file__).parent / "templates")

#: Served without an access token: the citizen's portal session (CSRF on every form).
ROUTES: frozenset[str] = frozenset(
    {
        "/mandates",
        "/mandates/{mandate_id}",
        "/mandates/{mandate_id}/confirm",
        "/mandates/{mandate_id}/revoke",
    }
)


def _render(page: Page, name: str, title: str, status: int = 200, **values: Any) -> HTMLResponse:
    t = PORTAL_TEXTS[page.lang] | TEXTS[page.lang]
    nav = [("/", t["home"]), ("/my-requests", t["my_requests"]), ("/mandates", t["mandates"])]
    return render_page(page, ENV, name, title, t, nav, status, **values)


def _filed_by(page: Page, m: Any) -> str:
    return TEXTS[page.lang]["filed_by"].format(mediator=m.mediator_name, citizen=m.citizen_name)


@router.get("/mandates")
async def my_mandates(page: PageDep, session: SessionDep) -> Response:
    if page.principal is None:
        return to_login(page.request)
    async with session.begin():
        rows = await mandates.of_person(session, page.principal)
    items = [{"m": m, "filed_by": _filed_by(page, m)} for m in rows]
    return _render(page, "mandates.html", TEXTS[page.lang]["mandates"], rows=items)


@router.get("/mandates/{mandate_id}")
async def offer(
    mandate_id: str,
    page: PageDep,
    session: SessionDep,
    token: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    if page.principal is None:
        return to_login(page.request)
    try:
        async with session.begin():
            mandate = await mandates.by_link(session, page.principal, mandate_id, token)
    except DomainError as exc:
        return page.problem(exc)
    t = TEXTS[page.lang]
    return _render(
        page,
        "offer.html",
        t["offer"].format(mediator=mandate.mediator_name),
        m=mandate,
        token=token,
        filed_by=_filed_by(page, mandate),
    )


async def _checked(page: Page) -> tuple[Any, Response | None]:
    form = await page.request.form()
    if page.principal is None or page.session is None:
        return form, to_login(page.request)
    if not sessions.csrf_ok(page.csrf, str(form.get("csrf_token", ""))):
        return form, page.message(page.t["csrf"], status=403)
    return form, None


@router.post("/mandates/{mandate_id}/confirm")
async def confirm(mandate_id: str, page: PageDep, session: SessionDep) -> Response:
    form, refused = await _checked(page)
    if refused is not None:
        return refused
    assert page.principal is not None
    try:
        async with session.begin():
            mandate = await mandates.confirm(
                session, page.principal, mandate_id, str(form.get("token", ""))[:200]
            )
    except DomainError as exc:
        return page.problem(exc)
    return RedirectResponse(f"/requests/{mandate.request_id}", status_code=303)


@router.post("/mandates/{mandate_id}/revoke")
async def revoke(mandate_id: str, page: PageDep, session: SessionDep) -> Response:
    _, refused = await _checked(page)
    if refused is not None:
        return refused
    assert page.principal is not None
    try:
        async with session.begin():
            await mandates.revoke(session, page.principal, mandate_id)
    except DomainError as exc:
        return page.problem(exc)
    return RedirectResponse("/mandates", status_code=303)
