"""A tenant's own payment settings: its QR-bill creditor and its Stripe account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from socle.auth import Principal, require_commune_wide
from socle.openapi import problem_responses
from socle_payment.api.deps import PaymentsDep
from socle_payment.tenant_schemas import TenantSettingsIn, TenantSettingsOut

router = APIRouter(prefix="/v1/admin", tags=["admin"])

Admin = Annotated[Principal, Depends(require_commune_wide("payments:admin", "no commune settings"))]


@router.get(
    "/settings",
    response_model=TenantSettingsOut,
    summary="The tenant's creditor and Stripe account (secrets shown only as set or not, "
    "with their last four characters)",
    responses=problem_responses(401, 403),
)
async def get_settings(principal: Admin, payments: PaymentsDep) -> TenantSettingsOut:
    return TenantSettingsOut.model_validate(await payments.tenant_settings(principal.tenant))


@router.patch(
    "/settings",
    response_model=TenantSettingsOut,
    summary="Change the tenant's creditor, Stripe account or Stripe Connect account; members "
    "left out stay, null falls back to the installation's default",
    responses=problem_responses(401, 403, 409, 422),
)
async def change_settings(
    body: TenantSettingsIn, principal: Admin, payments: PaymentsDep
) -> TenantSettingsOut:
    changes = {
        name: (value.model_dump() if isinstance(value, BaseModel) else value)
        for name, value in ((n, getattr(body, n)) for n in body.model_fields_set)
    }
    return TenantSettingsOut.model_validate(
        await payments.configure_tenant(principal.tenant, changes)
    )
