"""Log in (code flow with PKCE at identity), the session behind each page, log out."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from socle.auth import InvalidToken, TokenVerifier
from socle.problems import DomainError
from socle.service import context_of
from socle_procedures.context import ProceduresContext
from socle_procedures.portal import sessions, use_cases
from socle_procedures.portal.context import Page, language, portal_of, safe_next

router = APIRouter(include_in_schema=False)


async def current_page(request: Request) -> Page:
    """The page's person, if the session cookie names a live session (refreshed when its
    access token expired)."""
    ctx = context_of(request, ProceduresContext)
    page = Page(request=request, portal=ctx.portal, lang=language(request))
    found = await use_cases.current_session(
        ctx.sessions, ctx.portal.oidc, request.cookies.get(sessions.SESSION_COOKIE)
    )
    if found is None:
        return page
    verifier: TokenVerifier = request.app.state.verifier
    try:
        page.principal = await verifier.verify(found.access_token)
    except InvalidToken:
        return page
    page.session = found
    page.csrf, page.access_token, page.claims = found.csrf, found.access_token, dict(found.claims)
    return page


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/auth/login?next={quote(target)}", status_code=303)


@router.get("/auth/login")
async def login(
    request: Request, next: Annotated[str | None, Query(max_length=500)] = None
) -> Response:
    portal = portal_of(request)
    page = Page(request=request, portal=portal, lang=language(request))
    if not portal.oidc.configured:
        return page.message(page.t["not_configured"], status=503)
    pending = sessions.new_login(safe_next(next))
    try:
        url = await portal.oidc.authorize_url(pending, page.lang)
    except DomainError as exc:
        return page.problem(exc)
    response = RedirectResponse(url, status_code=303)
    sessions.set_login_cookie(
        response, portal.settings.secret_key, pending, portal.settings.cookie_secure
    )
    return response


@router.get("/auth/callback")
async def callback(
    request: Request,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    state: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    portal = portal_of(request)
    page = Page(request=request, portal=portal, lang=language(request))
    pending = sessions.read_login_cookie(
        portal.settings.secret_key, request.cookies.get(sessions.LOGIN_COOKIE)
    )
    if pending is None or not code or state != pending.state:
        return page.message(
            page.t["login_failed"], status=400, link="/auth/login", link_text=page.t["log_in"]
        )
    ctx = context_of(request, ProceduresContext)
    try:
        session_id = await use_cases.log_in(ctx, request.app.state.verifier, code, pending.verifier)
    except DomainError as exc:
        if exc.status == 503:
            return page.problem(exc)
        return page.message(
            page.t["login_failed"], status=400, link="/auth/login", link_text=page.t["log_in"]
        )
    ttl = portal.settings.portal_session_ttl
    response = RedirectResponse(pending.next, status_code=303)
    sessions.set_session_cookie(response, session_id, ttl, portal.settings.cookie_secure)
    response.delete_cookie(sessions.LOGIN_COOKIE, path="/auth")
    return response


@router.post("/auth/logout")
async def logout(
    request: Request,
    page: Annotated[Page, Depends(current_page)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if page.session is None:
        return RedirectResponse("/logged-out", status_code=303)
    if not sessions.csrf_ok(page.csrf, csrf_token):
        return page.message(page.t["csrf"], status=403)
    after = f"{page.portal.settings.public_url.rstrip('/')}/logged-out"
    target = await use_cases.log_out(
        context_of(request, ProceduresContext),
        request.cookies.get(sessions.SESSION_COOKIE),
        after,
    )
    response = RedirectResponse(target or "/logged-out", status_code=303)
    response.delete_cookie(sessions.SESSION_COOKIE, path="/")
    return response


@router.get("/logged-out")
async def logged_out(request: Request) -> Response:
    page = Page(request=request, portal=portal_of(request), lang=language(request))
    return page.message(page.t["logged_out"], "", 200)


@router.get("/lang/{code}")
async def switch_language(
    request: Request, code: str, next: Annotated[str | None, Query(max_length=500)] = None
) -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in ("fr", "de", "it", "en"):
        response.set_cookie(
            sessions.LANG_COOKIE,
            code,
            max_age=365 * 86400,
            samesite="lax",
            secure=portal_of(request).settings.cookie_secure,
            httponly=True,
        )
    return response
