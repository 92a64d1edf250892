"""Dependencies shared by the payment routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from socle.auth import Principal, require_commune_wide, require_scope
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
Admin = Annotated[Principal, Depends(require_commune_wide("payments:admin", PERSON_REACH))]

PROVIDER_DOWN = (503, "The payment provider cannot be reached; retry later")
"""The 503 of routes that call the payment provider, for ``problem_responses``."""
