"""Dependencies shared by the payment routers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import AfterValidator, AwareDatetime

from socle.auth import Principal, require_scope
from socle.problems import PROBLEM_JSON, Forbidden
from socle_payment.payments import Payments


class CommuneWideOnly(Forbidden):
    code = "commune-wide-only"


async def get_payments(request: Request) -> Payments:
    payments: Payments = request.app.state.runtime.extras["payments"]
    return payments


def commune_wide(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    """``scope`` and a caller acting for the whole commune (staff, or a client for itself)."""
    verify = require_scope(scope)

    async def dependency(request: Request) -> Principal:
        principal = await verify(request)
        if not principal.commune_wide:
            raise CommuneWideOnly(
                "Only the commune's staff (role agent or admin) or its services (a client "
                "token) may do this; a person's token reaches only that person's payments."
            )
        return principal

    return dependency


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the instant is outside the years 1 to 9999 once in UTC") from None


#: A query instant: an ISO 8601 date-time with its offset (``Z`` or ``+01:00``), in UTC.
#: A time without an offset is refused (422): local times would silently shift results.
UTCInstant = Annotated[AwareDatetime, AfterValidator(_utc)]

PaymentsDep = Annotated[Payments, Depends(get_payments)]
Reader = Annotated[Principal, Depends(require_scope("payments:read"))]
Writer = Annotated[Principal, Depends(require_scope("payments:write"))]
CommuneReader = Annotated[Principal, Depends(commune_wide("payments:read"))]
CommuneWriter = Annotated[Principal, Depends(commune_wide("payments:write"))]


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
