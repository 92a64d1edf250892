"""Public pages of a payment, addressed by an unguessable token: the citizen's side."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Cookie, Form, Header, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from socle.problems import NotFound, Unavailable, Unprocessable
from socle_payment.api.deps import PaymentsDep
from socle_payment.errors import PaymentNotOpen
from socle_payment.models import Payment
from socle_payment.pages import Creditor, language, render
from socle_payment.payments import OPEN, Payments
from socle_payment.qrbills import render_pdf, render_svg

router = APIRouter(prefix="/pay", tags=["citizen pages"])

Token = Annotated[str, Path(min_length=20, max_length=64)]
AcceptLanguage = Annotated[str | None, Header(alias="Accept-Language")]
CSRF_COOKIE = "socle_pay_csrf"
Language = Annotated[str, Query(pattern="^(de|fr|it|en)$")]

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
}


def _html(body: str, status: int = 200, return_url: str | None = None) -> HTMLResponse:
    headers = dict(SECURITY_HEADERS)
    if return_url:
        # The form's answer redirects to return_url: browsers apply form-action to it.
        parts = urlsplit(return_url)
        headers["Content-Security-Policy"] = headers["Content-Security-Policy"].replace(
            "form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}"
        )
    return HTMLResponse(body, status_code=status, headers=headers)


def _form(
    payments: Payments, payment: Payment, lang: str, error: str | None, status: int
) -> HTMLResponse:
    csrf = secrets.token_urlsafe(24)
    response = _html(
        render(
            lang,
            "sandbox",
            payment=payment,
            page_url=payments.page_url(payment),
            csrf=csrf,
            error_key=error,
        ),
        status,
        return_url=payment.return_url,
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        httponly=True,
        samesite="strict",
        secure=payments.settings.payment_public_url.startswith("https://"),
        path=f"/pay/{payment.page_token}",
        max_age=3600,
    )
    return response


def _same_token(cookie: str | None, form: str) -> bool:
    """The form carries the cookie's CSRF token; compared in constant time as bytes, so any
    text (non-ASCII included) is simply a mismatch."""
    if not cookie or not form:
        return False
    return hmac.compare_digest(
        cookie.encode("utf-8", "surrogatepass"), form.encode("utf-8", "surrogatepass")
    )


@router.get(
    "/{token}",
    response_class=HTMLResponse,
    summary="The citizen's payment page (sandbox form, QR-bill, or a redirect to the provider)",
    responses={303: {"description": "To the provider's page"}, 404: {}, 503: {}},
)
async def payment_page(
    token: Token,
    payments: PaymentsDep,
    accept_language: AcceptLanguage = None,
) -> Response:
    lang = language(accept_language)
    try:
        payment = await payments.by_token(token)
    except NotFound:
        return _html(render(lang, "error", error_key="not_found"), 404)
    if payment.status not in OPEN:
        return _html(render(lang, "closed", payment=payment))
    page = payments.page_of(payment)
    if page == "test-cards":
        return _form(payments, payment, lang, None, 200)
    if page == "qrbill":
        creditor = Creditor.of(await payments.creditor_of(payment.tenant), payment)
        return _html(
            render(
                lang,
                "qrbill",
                payment=payment,
                page_url=payments.page_url(payment),
                creditor=creditor,
            )
        )
    try:
        target = await payments.open_at_provider(payment)
    except Unavailable:
        return _html(render(lang, "error", payment=payment, error_key="down"), 503)
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


@router.post(
    "/{token}",
    response_class=HTMLResponse,
    summary="Submit the sandbox card form (CSRF-protected); back to return_url",
    responses={303: {"description": "Back to return_url"}, 403: {}, 404: {}, 409: {}, 422: {}},
)
async def sandbox_submit(
    token: Token,
    payments: PaymentsDep,
    card_number: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    csrf_cookie: Annotated[str | None, Cookie(alias=CSRF_COOKIE)] = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    lang = language(accept_language)
    try:
        payment = await payments.by_token(token)
    except NotFound:
        return _html(render(lang, "error", error_key="not_found"), 404)
    if not _same_token(csrf_cookie, csrf_token):
        return _html(render(lang, "error", payment=payment, error_key="csrf"), 403)
    try:
        payment = await payments.sandbox_pay(token, card_number)
    except NotFound:
        return _html(render(lang, "error", error_key="not_found"), 404)
    except PaymentNotOpen:
        payment = await payments.by_token(token)
        return _html(render(lang, "closed", payment=payment), 409)
    except Unprocessable:
        payment = await payments.by_token(token)
        return _form(payments, payment, lang, "unknown_card", 422)
    return RedirectResponse(payment.return_url, status_code=303, headers=SECURITY_HEADERS)


@router.get(
    "/{token}/qr-bill.svg",
    summary="The QR-bill of this payment page, as SVG",
    responses={200: {"content": {"image/svg+xml": {}}}, 404: {}, 409: {}},
)
async def page_qr_bill_svg(token: Token, payments: PaymentsDep, lang: Language = "fr") -> Response:
    payment = await payments.by_token(token)
    return Response(
        render_svg(await payments.creditor_of(payment.tenant), payment, lang),
        media_type="image/svg+xml",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@router.get(
    "/{token}/qr-bill.pdf",
    summary="The QR-bill of this payment page, as PDF",
    responses={200: {"content": {"application/pdf": {}}}, 404: {}, 409: {}, 503: {}},
)
async def page_qr_bill_pdf(token: Token, payments: PaymentsDep, lang: Language = "fr") -> Response:
    payment = await payments.by_token(token)
    return Response(
        render_pdf(await payments.creditor_of(payment.tenant), payment, lang),
        media_type="application/pdf",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
