"""Pages a person sees: login (password, second factor), logout, registration, e-mail
verification, password reset. Every form carries a CSRF token bound to a cookie."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from socle.problems import DomainError
from socle.web import CommuneLook, inline_stylesheet, templates
from socle_identity import (
    administration,
    authrequest,
    errors,
    federation,
    login,
    logout,
    registration,
    sessions,
)
from socle_identity.api.deps import ProviderDep, form_fields
from socle_identity.i18n import LOCALES, Translator, pick
from socle_identity.provider import Provider

router = APIRouter(tags=["pages"], include_in_schema=True)

CSRF_COOKIE = "socle_csrf"
SESSION_COOKIE = "socle_session"
LANG_COOKIE = "socle_lang"
HTML: dict[str, Any] = {"description": "An HTML page", "content": {"text/html": {}}}
PAGE: dict[int | str, dict[str, Any]] = {
    200: HTML,
    303: {"description": "On to the next page (or back to the application)"},
    400: {"description": "The request cannot be served: a page saying why", **HTML},
    403: {"description": "The form's CSRF token is missing or stale: a page saying so", **HTML},
}
"""What a page of identity answers: a page, a redirect, or a page that explains an error."""
LOGIN_PAGE: dict[int | str, dict[str, Any]] = {
    **PAGE,
    401: {"description": "Wrong credentials: the form again, saying so", **HTML},
    429: {"description": "Too many failures: the account is locked for a while", **HTML},
}

_templates = templates(directory=Path(__file__).resolve().parent.parent / "templates")
_STYLES = inline_stylesheet()
#: The title of a page that only says something: where the person is, not "Log in".
MESSAGE_TITLES = {
    "check_email": "check_email_title",
    "email_verified": "email_verified_title",
    "reset_sent": "reset_sent_title",
    "password_changed": "password_changed_title",
    "logged_out": "logged_out_title",
}


def _switch_url(request: Request, base: str | None) -> Any:
    def url(code: str) -> str:
        if base is not None:
            return f"{base}&{urlencode({'lang': code})}"
        params = dict(request.query_params)
        params["lang"] = code
        return f"{request.url.path}?{urlencode(params)}"

    return url


def render(
    request: Request,
    p: Provider,
    template: str,
    title_key: str,
    *,
    status: int = 200,
    switch_base: str | None = None,
    **context: Any,
) -> HTMLResponse:
    locale = pick(request, p.settings.default_locale)
    t = Translator(locale)
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    look = CommuneLook()
    switch_url = _switch_url(request, switch_base)
    body = _templates.get_template(template).render(
        locale=locale,
        lang=locale,
        locales=LOCALES,
        t=t,
        title=t(title_key),
        page_title=t(title_key),
        commune=look.commune,
        portal_url=look.portal_url,
        inline_css=_STYLES,
        nonce="",
        lang_url=switch_url,
        csrf=csrf,
        switch_url=switch_url,
        **context,
    )
    response = HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "default-src 'self'; style-src 'unsafe-inline'"
    _cookie(response, p, CSRF_COOKIE, csrf)
    if request.query_params.get("lang") in LOCALES:
        _cookie(response, p, LANG_COOKIE, request.query_params["lang"])
    return response


def _cookie(response: Response, p: Provider, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=p.settings.cookie_secure,
        path="/",
        max_age=p.settings.session_ttl if name == SESSION_COOKIE else None,
    )


def message(
    request: Request, p: Provider, text_key: str, *, status: int = 200, detail: str = ""
) -> HTMLResponse:
    t = Translator(pick(request, p.settings.default_locale))
    title = "error_title" if status >= 400 else MESSAGE_TITLES.get(text_key, "login_title")
    return render(
        request, p, "message.html", title, status=status, message=t(text_key), detail=detail
    )


def page_error(request: Request, p: Provider, exc: authrequest.PageError) -> HTMLResponse:
    return message(
        request, p, "bad_request", status=exc.status, detail=f"{exc.error}: {exc.description}"
    )


def csrf_ok(request: Request, form: dict[str, str]) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = form.get("csrf_token", "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), sent.encode())


def redirect_to(p: Provider, outcome: sessions.Outcome) -> Response:
    response = RedirectResponse(outcome.redirect, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    if outcome.session_token:
        _cookie(response, p, SESSION_COOKIE, outcome.session_token)
    return response


async def login_page(
    request: Request,
    p: Provider,
    auth: authrequest.AuthRequest,
    client_name: str,
    tenant: str,
    *,
    error: str = "",
    email: str = "",
    status: int = 200,
) -> HTMLResponse:
    query = urlencode(authrequest.asdict_params(auth))
    request_token = authrequest.dump_request(p, auth)
    upstream = await federation.upstream_name(p, tenant)
    return render(
        request,
        p,
        "login.html",
        "login_title",
        status=status,
        switch_base=f"/authorize?{query}",
        action="/login",
        request_token=request_token,
        upstream=upstream,
        federation_url=f"/federation/start?{urlencode({'request': request_token})}",
        client_name=client_name,
        error=error,
        email=email,
        register_url=f"/register?{urlencode({'client_id': auth.client_id})}",
        reset_url=f"/password-reset?{urlencode({'client_id': auth.client_id})}",
    )


@router.get("/authorize", summary="Authorization endpoint (login page)", responses=PAGE)
async def authorize(request: Request, p: ProviderDep) -> Response:
    return await _authorize(request, p, dict(request.query_params))


@router.post("/authorize", summary="Authorization endpoint (form post)", responses=PAGE)
async def authorize_post(request: Request, p: ProviderDep) -> Response:
    return await _authorize(request, p, await form_fields(request))


async def _authorize(request: Request, p: Provider, given: dict[str, str]) -> Response:
    params = {k: v for k, v in given.items() if k != "lang"}
    try:
        auth, client, outcome = await sessions.authorize(
            p, params, request.cookies.get(SESSION_COOKIE)
        )
    except authrequest.PageError as exc:
        return page_error(request, p, exc)
    if outcome is not None:
        return redirect_to(p, outcome)
    return await login_page(request, p, auth, client.name, client.tenant)


@router.post("/login", summary="Login form (password)", responses=LOGIN_PAGE)
async def login_post(request: Request, p: ProviderDep) -> Response:
    form = await form_fields(request)
    t = Translator(pick(request, p.settings.default_locale))
    try:
        auth = authrequest.load_request(p, form.get("request", ""))
        if not csrf_ok(request, form):
            return message(request, p, "csrf", status=403)
        result = await login.password_login(
            p, auth, form.get("email", ""), form.get("password", "")
        )
    except authrequest.PageError as exc:
        return page_error(request, p, exc)
    except errors.LoginRefused as exc:
        client = await administration.client_by_id(p, auth.client_id)
        return await login_page(
            request,
            p,
            auth,
            client.name if client else auth.client_id,
            client.tenant if client else "",
            error=t(exc.reason, minutes=exc.minutes),
            email=form.get("email", ""),
            status=429 if exc.reason == "locked" else 401,
        )
    if isinstance(result, str):
        return render(request, p, "totp.html", "totp_title", action="/login/totp", pending=result)
    return redirect_to(p, result)


@router.post("/login/totp", summary="Login form (second factor)", responses=LOGIN_PAGE)
async def login_totp(request: Request, p: ProviderDep) -> Response:
    form = await form_fields(request)
    t = Translator(pick(request, p.settings.default_locale))
    if not csrf_ok(request, form):
        return message(request, p, "csrf", status=403)
    try:
        outcome = await login.totp_login(p, form.get("pending", ""), form.get("code", ""))
    except authrequest.PageError as exc:
        return page_error(request, p, exc)
    except errors.LoginRefused as exc:
        return render(
            request,
            p,
            "totp.html",
            "totp_title",
            status=429 if exc.reason == "locked" else 401,
            action="/login/totp",
            pending=form.get("pending", ""),
            error=t(exc.reason, minutes=exc.minutes),
        )
    return redirect_to(p, outcome)


async def _logout(
    request: Request, p: Provider, params: dict[str, str], *, confirmed: bool = False
) -> Response:
    """Log out at once when the application proved who is logging out (``id_token_hint``);
    otherwise the person confirms on a page (the ``confirm`` form, CSRF-protected)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    try:
        checked = await logout.check(
            p,
            cookie,
            id_token_hint=None if confirmed else params.get("id_token_hint"),
            client_id=params.get("client_id"),
            post_logout_redirect_uri=params.get("post_logout_redirect_uri"),
            state=params.get("state"),
        )
    except authrequest.PageError as exc:
        return page_error(request, p, exc)
    if confirmed and not csrf_ok(request, params):
        return message(request, p, "csrf", status=403)
    if checked.confirm and not confirmed:
        return render(
            request,
            p,
            "logout.html",
            "logout_title",
            action="/logout",
            client_id=checked.client_id or "",
            post_logout_redirect_uri=params.get("post_logout_redirect_uri", ""),
            state=params.get("state", ""),
        )
    await logout.end_session(p, cookie)
    response: Response = (
        RedirectResponse(checked.target, status_code=303)
        if checked.target
        else message(request, p, "logged_out")
    )
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/logout", summary="RP-initiated logout", responses=PAGE)
async def logout_get(request: Request, p: ProviderDep) -> Response:
    return await _logout(request, p, dict(request.query_params))


@router.post("/logout", summary="RP-initiated logout (form, or the confirmation)", responses=PAGE)
async def logout_post(request: Request, p: ProviderDep) -> Response:
    form = await form_fields(request)
    return await _logout(request, p, form, confirmed="confirm" in form)


def _register_page(
    request: Request,
    p: Provider,
    client_id: str,
    *,
    error: str = "",
    status: int = 200,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    form = form or {}
    return render(
        request,
        p,
        "register.html",
        "register_title",
        status=status,
        action="/register",
        client_id=client_id,
        error=error,
        email=form.get("email", ""),
        given_name=form.get("given_name", ""),
        family_name=form.get("family_name", ""),
    )


@router.get("/register", summary="Citizen self-registration", responses=PAGE)
async def register_get(request: Request, p: ProviderDep, client_id: str = "") -> Response:
    return _register_page(request, p, client_id)


@router.post("/register", summary="Citizen self-registration (form)", responses=PAGE)
async def register_post(request: Request, p: ProviderDep) -> Response:
    form = await form_fields(request)
    if not csrf_ok(request, form):
        return message(request, p, "csrf", status=403)
    t = Translator(pick(request, p.settings.default_locale))
    try:
        await registration.register_citizen(
            p,
            client_id=form.get("client_id", ""),
            email=form.get("email", ""),
            password=form.get("password", ""),
            given_name=form.get("given_name", ""),
            family_name=form.get("family_name", ""),
            locale=t.locale,
        )
    except authrequest.PageError as exc:
        return page_error(request, p, exc)
    except DomainError as exc:
        key = "weak_password" if exc.code == "weak-password" else "invalid_email"
        return _register_page(
            request, p, form.get("client_id", ""), error=t(key), status=422, form=form
        )
    return message(request, p, "check_email")


@router.get("/verify-email", summary="E-mail verification link", responses=PAGE)
async def verify_email(request: Request, p: ProviderDep, token: str = "") -> Response:
    if await registration.verify_email(p, token):
        return message(request, p, "email_verified")
    return message(request, p, "link_invalid", status=400)


@router.get("/password-reset", summary="Ask for a password reset link", responses=PAGE)
async def reset_get(request: Request, p: ProviderDep, client_id: str = "") -> Response:
    return render(
        request, p, "reset.html", "reset_title", action="/password-reset", client_id=client_id
    )


@router.post("/password-reset", summary="Ask for a password reset link (form)", responses=PAGE)
async def reset_post(request: Request, p: ProviderDep) -> Response:
    form = await form_fields(request)
    if not csrf_ok(request, form):
        return message(request, p, "csrf", status=403)
    t = Translator(pick(request, p.settings.default_locale))
    try:
        await registration.request_password_reset(
            p, client_id=form.get("client_id", ""), email=form.get("email", ""), locale=t.locale
        )
    except authrequest.PageError as exc:
        return page_error(request, p, exc)
    return message(request, p, "reset_sent")


@router.get("/password-reset/confirm", summary="Choose a new password", responses=PAGE)
async def reset_confirm_get(request: Request, p: ProviderDep, token: str = "") -> Response:
    return render(
        request, p, "reset.html", "reset_title", action="/password-reset/confirm", token=token
    )


@router.post("/password-reset/confirm", summary="Choose a new password (form)", responses=PAGE)
async def reset_confirm_post(request: Request, p: ProviderDep) -> Response:
    form = await form_fields(request)
    if not csrf_ok(request, form):
        return message(request, p, "csrf", status=403)
    try:
        changed = await registration.reset_password(
            p, form.get("token", ""), form.get("password", "")
        )
    except DomainError:
        t = Translator(pick(request, p.settings.default_locale))
        return render(
            request,
            p,
            "reset.html",
            "reset_title",
            status=422,
            action="/password-reset/confirm",
            token=form.get("token", ""),
            error=t("weak_password"),
        )
    if not changed:
        return message(request, p, "link_invalid", status=400)
    return message(request, p, "password_changed")


FEDERATION_COOKIE = "socle_federation"


@router.get(
    "/federation/start", summary="Log in through the tenant's upstream provider", responses=PAGE
)
async def federation_start(request: Request, p: ProviderDep) -> Response:
    try:
        target, cookie = await federation.start(p, request.query_params.get("request", ""))
    except authrequest.PageError as exc:
        return page_error(request, p, exc)
    response = RedirectResponse(target, status_code=303)
    _cookie(response, p, FEDERATION_COOKIE, cookie)
    return response


@router.get("/federation/callback", summary="Return from the upstream provider", responses=PAGE)
async def federation_callback(request: Request, p: ProviderDep) -> Response:
    try:
        outcome = await federation.finish(
            p, dict(request.query_params), request.cookies.get(FEDERATION_COOKIE)
        )
    except authrequest.PageError as exc:
        response: Response = page_error(request, p, exc)
    else:
        response = redirect_to(p, outcome)
    response.delete_cookie(FEDERATION_COOKIE, path="/")
    return response
