"""Dependencies shared by the procedures routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from socle.auth import Principal, require_scope
from socle.problems import PROBLEM_JSON
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


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem+json answers of a route."""
    texts = {
        401: "No or invalid access token",
        403: "The token lacks the scope, or the caller may not make this move",
        404: "No such procedure or request that this caller can see",
        409: "The state of the procedure or request does not allow this",
        422: "Invalid input (field errors with JSON pointers in `errors`)",
        502: "The payment service refused the payment",
        503: "The payment service cannot be reached; retry later",
    }
    return {
        status: {"description": texts[status], "content": {PROBLEM_JSON: {}}} for status in statuses
    }
