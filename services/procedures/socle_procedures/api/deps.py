"""Dependencies shared by the procedures routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from socle.auth import Principal, require_scope
from socle.problems import PROBLEM_JSON
from socle_procedures.charging import Charging
from socle_procedures.events import Site

Admin = Annotated[Principal, Depends(require_scope("procedures:admin"))]
Reader = Annotated[Principal, Depends(require_scope("procedures:read"))]
Writer = Annotated[Principal, Depends(require_scope("procedures:write"))]


def get_charging(request: Request) -> Charging:
    charging: Charging = request.app.state.runtime.extras["charging"]
    return charging


ChargingDep = Annotated[Charging, Depends(get_charging)]


def get_site(request: Request) -> Site:
    site: Site = request.app.state.runtime.extras["site"]
    return site


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
