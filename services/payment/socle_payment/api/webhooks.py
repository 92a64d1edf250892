"""Provider webhooks (public: the signature is the authentication)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from socle.openapi import problem_responses
from socle.problems import TooLarge
from socle.service import SessionDep
from socle_payment.api.deps import PaymentsDep

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

MAX_WEBHOOK_BYTES = 512 * 1024


@router.post(
    "/stripe",
    summary="Stripe events (signature checked); replays and duplicates have no second effect",
    responses=problem_responses(400, 404, 413),
)
async def stripe_webhook(
    request: Request,
    payments: PaymentsDep,
    session: SessionDep,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> dict[str, str]:
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > MAX_WEBHOOK_BYTES:
            raise TooLarge("A Stripe event is never this large.")
    outcome = await payments.stripe_webhook(session, bytes(raw), stripe_signature)
    return {"received": "true", "outcome": outcome}
