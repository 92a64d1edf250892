"""Dependencies shared by the procedures routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from socle.auth import Principal, require_scope
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

PAYMENT_REFUSED = (502, "The payment service refused the payment")
PAYMENT_DOWN = (503, "The payment service cannot be reached; retry later")
"""The 502 and 503 of routes that call the payment service, for ``problem_responses``."""
