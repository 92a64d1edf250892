"""Dependencies shared by the procedures routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from socle.auth import Principal, require_scope
from socle.service import context_dependency
from socle_procedures.charging import Charging
from socle_procedures.context import ProceduresContext
from socle_procedures.events import Site

Admin = Annotated[Principal, Depends(require_scope("procedures:admin"))]
Reader = Annotated[Principal, Depends(require_scope("procedures:read"))]
Writer = Annotated[Principal, Depends(require_scope("procedures:write"))]


ContextDep = Annotated[ProceduresContext, Depends(context_dependency(ProceduresContext))]


async def get_charging(context: ContextDep) -> Charging:
    return context.charging


ChargingDep = Annotated[Charging, Depends(get_charging)]


async def get_site(context: ContextDep) -> Site:
    return context.site


SiteDep = Annotated[Site, Depends(get_site)]

PAYMENT_REFUSED = (502, "The payment service refused the payment")
PAYMENT_DOWN = (503, "The payment service cannot be reached; retry later")
"""The 502 and 503 of routes that call the payment service, for ``problem_responses``."""
