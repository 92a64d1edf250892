"""The citizen confirms a mandate from the e-mailed link, sees the mandates given and
revokes them. The same use cases as ``/v1/mandates``; forms work without JavaScript."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment

from socle.problems import DomainError
from socle.web import templates
from socle.web.i18n import localized
from socle_procedures import use_cases
from socle_procedures.api.deps import ContextDep
from socle_procedures.context import ProceduresContext
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
        "/mandates/new",
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
async def my_mandates(page: PageDep, ctx: ContextDep) -> Response:
    if page.principal is None:
        return to_login(page.request)
    rows = await use_cases.mandates_of(ctx.sessions, page.principal)
    items = [{"m": m, "filed_by": _filed_by(page, m)} for m in rows]
    return _render(
        page,
        "mandates.html",
        TEXTS[page.lang]["mandates"],
        rows=items,
        me=page.principal.subject,
        mediator=page.principal.has_role("mediator"),
    )


@router.get("/mandates/new")
async def new_form(page: PageDep, ctx: ContextDep) -> Response:
    """A mediator files for someone: which procedure, the person's name and e-mail."""
    if page.principal is None:
        return to_login(page.request)
    return await _new_page(page, ctx)


async def _new_page(
    page: Page, ctx: ProceduresContext, error: str | None = None, status: int = 200, **kept: Any
) -> Response:
    assert page.principal is not None
    t = TEXTS[page.lang]
    if not page.principal.has_role("mediator"):
        return _render(page, "info.html", t["new"], 403, text=t["mediators_only"])
    rows = await use_cases.procedures(ctx.sessions, page.principal.tenant, include_all=False)
    options = [(v.slug, localized(v.document["title"], page.lang) or v.slug) for v in rows]
    return _render(page, "new.html", t["new"], status, options=options, error=error, kept=kept)


@router.post("/mandates/new")
async def file_for(page: PageDep, ctx: ContextDep) -> Response:
    form, refused = await _checked(page)
    if refused is not None:
        return refused
    assert page.principal is not None
    values = {
        k: str(form.get(k, "")).strip()[:255]
        for k in ("procedure", "citizen_name", "citizen_email")
    }
    t = TEXTS[page.lang]
    if not all(values.values()) or "@" not in values["citizen_email"]:
        return await _new_page(page, ctx, t["invalid"].format(detail=""), 422, **values)
    try:
        await use_cases.start_mandate(
            ctx.sessions,
            page.principal,
            values["procedure"][:64],
            citizen_name=values["citizen_name"],
            citizen_email=values["citizen_email"],
            locale=page.lang,
            site=ctx.site,
        )
    except DomainError as exc:
        if exc.status in (403, 404, 409, 422):
            return await _new_page(
                page, ctx, t["invalid"].format(detail=exc.detail), exc.status, **values
            )
        return page.problem(exc)
    return _render(page, "info.html", t["new"], 201, text=t["offer_sent"])


@router.get("/mandates/{mandate_id}")
async def offer(
    mandate_id: str,
    page: PageDep,
    ctx: ContextDep,
    token: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    if page.principal is None:
        return to_login(page.request)
    try:
        mandate = await use_cases.mandate_by_link(ctx.sessions, page.principal, mandate_id, token)
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
async def confirm(mandate_id: str, page: PageDep, ctx: ContextDep) -> Response:
    form, refused = await _checked(page)
    if refused is not None:
        return refused
    assert page.principal is not None
    try:
        mandate = await use_cases.confirm_mandate(
            ctx.sessions, page.principal, mandate_id, str(form.get("token", ""))[:200]
        )
    except DomainError as exc:
        return page.problem(exc)
    return RedirectResponse(f"/requests/{mandate.request_id}", status_code=303)


@router.post("/mandates/{mandate_id}/revoke")
async def revoke(mandate_id: str, page: PageDep, ctx: ContextDep) -> Response:
    _, refused = await _checked(page)
    if refused is not None:
        return refused
    assert page.principal is not None
    try:
        await use_cases.revoke_mandate(ctx.sessions, page.principal, mandate_id)
    except DomainError as exc:
        return page.problem(exc)
    return RedirectResponse("/mandates", status_code=303)
