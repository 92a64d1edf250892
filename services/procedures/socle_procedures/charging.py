"""The fee of a request, paid through the payment service.

The request learns the outcome from ``payment.succeeded``/``payment.failed`` on the bus and
from ``GET /v1/payments/{id}`` when the citizen comes back, whichever comes first: both go
through :func:`apply_outcome`, which has no second effect and never moves a paid request
back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle import clock
from socle.auth import Principal
from socle.db import for_update
from socle.events import CloudEvent, MalformedEvent
from socle.eventtypes.payment import EVENTS as PAYMENT_EVENT_MODELS
from socle.eventtypes.payment import PaymentChanged
from socle.web.i18n import localized
from socle_procedures import requests
from socle_procedures.definitions import fees
from socle_procedures.errors import Incomplete, NoFee, NotEditable
from socle_procedures.models import Request, RequestHistory
from socle_procedures.payment_client import PaymentClient

log = structlog.get_logger("socle_procedures.charging")

PAYMENT_EVENTS: dict[str, type[PaymentChanged]] = {
    m.TYPE: m for m in PAYMENT_EVENT_MODELS if issubclass(m, PaymentChanged)
}
CLOSED_FAILURES = frozenset({"failed", "expired", "cancelled"})


@dataclass
class Charging:
    """Asks for payments with the citizen's token and applies what payment says."""

    client: PaymentClient
    sessions: async_sessionmaker[AsyncSession]
    public_url: str

    def return_url(self, request_id: str) -> str:
        return f"{self.public_url.rstrip('/')}/requests/{request_id}/payment-return"

    async def start(
        self, principal: Principal, token: str, request_id: str, *, return_url: str | None = None
    ) -> Request:
        """Open the payment of the request's fee (or give back the one still open)."""
        async with self.sessions() as session, session.begin():
            loaded = await requests.load(session, principal, request_id, lock=True)
            request, definition = loaded.request, loaded.definition
            requests._require_owner(principal, loaded)
            if request.state not in requests.EDITABLE:
                raise NotEditable(f"A {request.state} request has nothing left to pay.")
            if request.fee_amount <= 0:
                raise NoFee("This request has no fee to pay.")
            if requests.missing_steps(loaded, clock.now().date()):
                raise Incomplete("Answer every step before paying: the fee depends on them.")
            if request.payment_status == "succeeded":
                return request
            if request.payment_status == "pending" and request.payment_next_url:
                return request
            # A new attempt only after the last payment ended (declined, cancelled, expired):
            # a call whose answer was lost is retried with the same Idempotency-Key, so
            # payment answers the payment it may already have opened instead of a second one.
            if request.payment_id is not None or request.payment_attempts == 0:
                request.payment_attempts += 1
            attempt = request.payment_attempts
            fee = definition["fee"]
            body: dict[str, Any] = {
                "amount": request.fee_amount,
                "currency": fees.currency(fee),
                "reference": f"{request.procedure}-{request.id[:12]}",
                "description": localized(
                    fee.get("description") or definition["title"], request.locale
                )[:500],
                "return_url": return_url or self.return_url(request.id),
                "provider": fees.provider(fee),
                "procedure_ref": request.id,
                "metadata": {"procedure": request.procedure, "request_id": request.id},
            }
            if request.email:
                body["payer_email"] = request.email
        key = f"request-{request_id}-{attempt}-{body['amount']}"
        payment = await self.client.create(token, body, key)
        async with self.sessions() as session, session.begin():
            loaded = await requests.load(session, principal, request_id, lock=True)
            request = loaded.request
            if request.payment_status != "succeeded":
                request.payment_id = payment["id"]
                request.payment_status = "pending"
                request.payment_provider = payment.get("provider")
                request.payment_next_url = payment.get("next_url")
                request.updated_at = clock.now()
            return request

    async def refresh(self, principal: Principal, token: str, request_id: str) -> Request:
        """On return from payment: ask payment for the truth, apply it."""
        async with self.sessions() as session:
            loaded = await requests.load(session, principal, request_id)
            payment_id = loaded.request.payment_id
        if payment_id is None:
            return loaded.request
        payment = await self.client.get(token, payment_id)
        async with self.sessions() as session, session.begin():
            await apply_outcome(
                session,
                tenant=principal.tenant,
                request_id=request_id,
                payment_id=payment_id,
                status=str(payment["status"]),
                amount_captured=int(payment.get("amount_captured") or 0),
                cause="payment_return",
            )
            return (await requests.load(session, principal, request_id)).request


async def apply_outcome(
    session: AsyncSession,
    *,
    tenant: str,
    request_id: str,
    payment_id: str,
    status: str,
    amount_captured: int,
    cause: str,
) -> bool:
    """Record a payment's outcome on its request; True when something changed. An unknown
    request, another tenant's, a repeated or late outcome change nothing."""
    query = select(Request).where(Request.id == request_id, Request.tenant == tenant)
    request = (await session.execute(for_update(query))).scalar_one_or_none()
    if request is None:
        log.info("payment_outcome_for_unknown_request", payment_id=payment_id)
        return False
    if request.payment_status == "succeeded":
        return False  # paid stays paid, whatever comes later
    if status == "succeeded":
        request.payment_id = payment_id
        request.payment_status = "succeeded"
        request.amount_paid = amount_captured
        request.payment_next_url = None
    elif status in CLOSED_FAILURES and payment_id == request.payment_id:
        if request.payment_status == status:
            return False
        request.payment_status = status
        request.payment_next_url = None
    else:
        return False
    request.updated_at = clock.now()
    session.add(
        RequestHistory(
            request_id=request.id,
            tenant=tenant,
            from_state=request.state,
            to_state=request.state,
            actor="payment",
            note=f"payment {payment_id} {status} ({cause})",
            at=request.updated_at,
        )
    )
    return True


def payment_consumer(sessions: async_sessionmaker[AsyncSession]) -> Any:
    """The effect of a ``payment.*`` event, for :func:`socle.inbox.exactly_once`."""

    async def effect(session: AsyncSession, event: CloudEvent) -> None:
        model = PAYMENT_EVENTS.get(event.type)
        if model is None:
            return
        try:
            payment = model.of(event)
        except MalformedEvent as exc:
            log.warning("payment_event_unreadable", event_id=event.id, error=str(exc))
            return
        if not payment.procedure_ref:
            return
        await apply_outcome(
            session,
            tenant=event.tenant,
            request_id=payment.procedure_ref,
            payment_id=payment.payment_id,
            status=payment.status,
            amount_captured=payment.amount_captured,
            cause=f"event:{event.id}",
        )

    return effect
