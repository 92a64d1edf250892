"""The payment of a request as payment knows it, and a refund through payment: the agent
opens the refund page (what was paid and what is left), confirms an amount and a reason, and
procedures asks payment with the agent's own token and an Idempotency-Key carried by the form
(sending the form twice refunds once). Payment allows refunds to the commune's staff only;
each refund is written in the request's history."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter
from fastapi.responses import Response

from socle import clock
from socle.problems import DomainError
from socle.web.i18n import format_money
from socle_procedures import use_cases
from socle_procedures.api.deps import ContextDep
from socle_procedures.backoffice.common import (
    PageDep,
    checked_form,
    office_texts,
    problem_page,
    refusal,
    render_office,
)
from socle_procedures.backoffice.payments import payment_view
from socle_procedures.context import ProceduresContext
from socle_procedures.errors import PaymentUnavailable, RequestNotFound
from socle_procedures.portal.context import Page

router = APIRouter(prefix="/back-office", include_in_schema=False)
ROUTES: frozenset[str] = frozenset({"/back-office/requests/{request_id}/refund"})


def _minor(text: str, left: int) -> int | None:
    """``"50.00"`` -> 5000; empty -> all that is left; None when not a valid amount."""
    if not text.strip():
        return left
    try:
        value = Decimal(text.strip().replace("'", "").replace(",", "."))
        if not value.is_finite() or value != value.quantize(Decimal("0.01")):
            return None
    except InvalidOperation:
        return None
    minor = int(value * 100)
    return minor if 0 < minor <= left else None


async def _page(
    page: Page,
    ctx: ProceduresContext,
    request_id: str,
    *,
    message: str | None = None,
    kind: str = "info",
    status: int = 200,
) -> Response:
    assert page.principal is not None
    try:
        loaded = await use_cases.staff_load(ctx.sessions, page.principal, request_id)
    except DomainError as exc:
        return problem_page(page, exc)
    request, t = loaded.request, office_texts(page)
    view = await payment_view(page, request)
    if view is None:
        return problem_page(page, RequestNotFound("This request has no payment."))
    return render_office(
        page,
        "refund.html",
        t["refund_title"],
        status=status,
        request=request,
        payment=view,
        intro=t["refund_intro"].format(paid=view.paid, refunded=view.refunded, left=view.left),
        amount_label=t["refund_amount"].format(currency=request.fee_currency),
        idempotency_key=uuid.uuid4().hex,
        message=message,
        message_kind=kind,
    )


@router.get("/requests/{request_id}/refund")
async def refund_page(request_id: str, page: PageDep, ctx: ContextDep) -> Response:
    if (refused := refusal(page)) is not None:
        return refused
    return await _page(page, ctx, request_id)


@router.post("/requests/{request_id}/refund")
async def refund(request_id: str, page: PageDep, ctx: ContextDep) -> Response:
    form, refused = await checked_form(page)
    if refused is not None:
        return refused
    assert page.principal is not None
    t = office_texts(page)
    try:
        loaded = await use_cases.staff_load(ctx.sessions, page.principal, request_id)
    except DomainError as exc:
        return problem_page(page, exc)
    request = loaded.request
    view = await payment_view(page, request)
    if view is None or not view.live:
        return problem_page(page, PaymentUnavailable("The payment service cannot be reached."))
    if not view.refundable:
        return await _page(
            page, ctx, request_id, message=t["not_refundable"], kind="error", status=409
        )
    amount = _minor(str(form.get("amount", ""))[:32], view.left_minor)
    if amount is None:
        return await _page(
            page,
            ctx,
            request_id,
            message=t["refund_invalid"].format(left=view.left),
            kind="error",
            status=422,
        )
    reason = str(form.get("reason", "")).strip()[:500] or None
    key = str(form.get("idempotency_key", "")).strip()[:64] or uuid.uuid4().hex
    assert request.payment_id is not None
    try:
        done = await ctx.charging.client.refund(
            page.access_token,
            request.payment_id,
            amount=amount,
            reason=reason,
            idempotency_key=f"back-office-refund-{key}",
        )
    except DomainError as exc:
        return await _page(
            page,
            ctx,
            request_id,
            message=t["refund_failed"].format(detail=exc.detail),
            kind="error",
            status=exc.status,
        )
    after = await payment_view(page, request)
    await use_cases.record_refund(
        ctx.sessions,
        page.principal,
        request_id,
        refund_id=str(done.get("id")),
        amount=amount,
        reason=reason,
        on=clock.now(),
    )
    refunded = format_money(int(done.get("amount", amount)), request.fee_currency, page.lang)
    return await _page(
        page,
        ctx,
        request_id,
        message=t["refunded"].format(amount=refunded, status=after.status if after else "-"),
        kind="success",
    )
