"""Provider webhooks (public: the signature is the authentication)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request

from socle.openapi import problem_responses
from socle.problems import TooLarge
from socle_payment.api.deps import PaymentsDep

router = APIRouter(tags=["webhooks"])

MAX_WEBHOOK_BYTES = 512 * 1024
TenantSlug = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{1,62}$")]


async def _body(request: Request) -> bytes:
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > MAX_WEBHOOK_BYTES:
            raise TooLarge("A Stripe event is never this large.")
    return bytes(raw)


@router.post(
    "/v1/webhooks/stripe",
    summary="Stripe events of the installation's account (signature checked with "
    "SOCLE_PAYMENT_STRIPE_WEBHOOK_SECRET); replays and duplicates have no second effect",
    responses=problem_responses(400, 404, 413),
)
async def stripe_webhook(
    request: Request,
    payments: PaymentsDep,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> dict[str, str]:
    outcome = await payments.stripe_webhook(await _body(request), stripe_signature)
    return {"received": "true", "outcome": outcome}


@router.post(
    "/v1/providers/stripe/webhook/{tenant}",
    summary="Stripe events of one tenant's account (signature checked with that tenant's "
    "webhook secret); they apply only to that tenant's payments",
    responses=problem_responses(400, 404, 413, 422),
)
async def tenant_stripe_webhook(
    tenant: TenantSlug,
    request: Request,
    payments: PaymentsDep,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> dict[str, str]:
    outcome = await payments.stripe_webhook(await _body(request), stripe_signature, tenant=tenant)
    return {"received": "true", "outcome": outcome}
