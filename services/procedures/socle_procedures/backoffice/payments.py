"""The payment of a request as the back-office shows it: asked of payment with the agent's
token, the last known status when payment cannot be reached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from socle.problems import DomainError
from socle.service import context_of
from socle.web.i18n import format_money
from socle_procedures.charging import Charging
from socle_procedures.context import ProceduresContext
from socle_procedures.models import Request
from socle_procedures.portal.context import Page

REFUNDABLE = frozenset({"succeeded", "partially_refunded"})


@dataclass
class PaymentView:
    """What the back-office shows of a payment; ``live`` False: payment did not answer."""

    status: str
    paid: str
    refunded: str
    left: str
    left_minor: int
    refundable: bool
    live: bool


def charging_of(page: Page) -> Charging:
    charging: Charging = context_of(page.request, ProceduresContext).charging
    return charging


async def payment_view(page: Page, request: Request) -> PaymentView | None:
    """The request's payment, asked of payment with the agent's token (the last known status
    when payment cannot be reached)."""
    if not request.payment_id:
        return None
    money = request.fee_currency, page.lang
    try:
        body: dict[str, Any] = await charging_of(page).client.get(
            page.access_token, request.payment_id
        )
    except DomainError:
        paid = format_money(request.amount_paid, *money)
        status = request.payment_status or "-"
        return PaymentView(status, paid, "-", "-", 0, False, False)
    captured, refunded = int(body["amount_captured"]), int(body["amount_refunded"])
    left = max(captured - refunded, 0)
    return PaymentView(
        status=str(body["status"]),
        paid=format_money(captured, *money),
        refunded=format_money(refunded, *money),
        left=format_money(left, *money),
        left_minor=left,
        refundable=body["status"] in REFUNDABLE and left > 0,
        live=True,
    )
