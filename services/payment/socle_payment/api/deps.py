"""Dependencies shared by the payment routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from socle.auth import Principal, require_commune_wide, require_scope
from socle.problems import PROBLEM_JSON
from socle.service import context_dependency
from socle_payment.context import PaymentContext
from socle_payment.payments import Payments

ContextDep = Annotated[PaymentContext, Depends(context_dependency(PaymentContext))]


async def get_payments(context: ContextDep) -> Payments:
    return context.payments


PaymentsDep = Annotated[Payments, Depends(get_payments)]
Reader = Annotated[Principal, Depends(require_scope("payments:read"))]
Writer = Annotated[Principal, Depends(require_scope("payments:write"))]
PERSON_REACH = "that person's payments"
CommuneReader = Annotated[Principal, Depends(require_commune_wide("payments:read", PERSON_REACH))]
CommuneWriter = Annotated[Principal, Depends(require_commune_wide("payments:write", PERSON_REACH))]


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem+json answers of a route."""
    texts = {
        400: "Bad request",
        401: "No or invalid access token",
        403: "The token lacks the scope, or the action is for the commune's staff or services",
        404: "No such payment in this tenant, or not one this caller may see",
        409: "The payment's status does not allow this",
        413: "Content too large",
        422: "Invalid input",
        503: "The payment provider cannot be reached; retry later",
    }
    return {
        status: {"description": texts[status], "content": {PROBLEM_JSON: {}}} for status in statuses
    }
