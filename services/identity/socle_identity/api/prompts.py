"""Pages between login and the code: consent and account selection."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from socle_identity import authrequest, prompts
from socle_identity.api.deps import ProviderDep, form_fields
from socle_identity.api.web import (
    PAGE,
    SESSION_COOKIE,
    csrf_ok,
    login_page,
    message,
    page_error,
    redirect_to,
    render,
)
from socle_identity.i18n import scope_label

router = APIRouter(tags=["pages"])


@router.get("/consent", summary="Consent page", responses=PAGE)
async def consent_get(request: Request, p: ProviderDep) -> Response:
    token = request.query_params.get("request", "")
    try:
        view = await prompts.consent_view(p, token, request.cookies.get(SESSION_COOKIE))
    except authrequest.PageError as exc:
        return page_error(request, p, exc)
    return render(
        request,
        p,
        "consent.html",
        "consent_title",
        action="/consent",
        request_token=token,
        client_name=view.client_name,
        scopes=[
            (scope, scope_label(scope, request, p.settings.default_locale)) for scope in view.scopes
        ],
    )


@router.post("/consent", summary="Consent page (the person's answer)", responses=PAGE)
async def consent_post(request: Request, p: ProviderDep) -> Response:
    form = await form_fields(request)
    if not csrf_ok(request, form):
        return message(request, p, "csrf", status=403)
    try:
        outcome = await prompts.answer_consent(
            p,
            form.get("request", ""),
            request.cookies.get(SESSION_COOKIE),
            allow=form.get("decision") == "allow",
        )
    except authrequest.PageError as exc:
        return page_error(request, p, exc)
    return redirect_to(p, outcome)


@router.get("/select-account", summary="Account selection page", responses=PAGE)
async def select_get(request: Request, p: ProviderDep) -> Response:
    token = request.query_params.get("request", "")
    try:
        view = await prompts.account_view(p, token, request.cookies.get(SESSION_COOKIE))
    except authrequest.PageError as exc:
        return page_error(request, p, exc)
    return render(
        request,
        p,
        "select_account.html",
        "select_title",
        action="/select-account",
        request_token=token,
        client_name=view.client_name,
        email=view.email,
        name=view.name,
    )


@router.post(
    "/select-account", summary="Account selection page (the person's choice)", responses=PAGE
)
async def select_post(request: Request, p: ProviderDep) -> Response:
    form = await form_fields(request)
    if not csrf_ok(request, form):
        return message(request, p, "csrf", status=403)
    try:
        outcome, auth, client = await prompts.choose_account(
            p,
            form.get("request", ""),
            request.cookies.get(SESSION_COOKIE),
            keep=form.get("choice") == "continue",
        )
    except authrequest.PageError as exc:
        return page_error(request, p, exc)
    if outcome is not None:
        return redirect_to(p, outcome)
    return await login_page(request, p, auth, client.name, client.tenant)
