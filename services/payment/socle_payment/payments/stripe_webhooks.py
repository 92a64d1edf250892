"""Stripe webhooks: verify the signature, apply each event once."""

from __future__ import annotations

from typing import Any

import stripe
import structlog
from sqlalchemy import select

from socle.inbox import first_delivery
from socle.problems import NotFound
from socle_payment.errors import InvalidSignature, InvalidWebhook
from socle_payment.models import Payment
from socle_payment.payments.ledger import PaymentsBase
from socle_payment.providers import Truth, truth_of_session

log = structlog.get_logger("socle_payment")


class StripeWebhooks(PaymentsBase):
    """Signed Stripe events applied to their payment."""

    # ---- Stripe webhooks -----------------------------------------------------------------

    async def stripe_webhook(
        self,
        payload: bytes,
        signature: str | None,
        tenant: str | None = None,
    ) -> str:
        """Apply a signed Stripe event once; returns what was done.

        With ``tenant`` (the endpoint ``/v1/providers/stripe/webhook/{tenant}``) the event is
        checked with that tenant's webhook secret (its own, else the installation's) and
        applies only to that tenant's payments; without, with the installation's secret."""
        if tenant is None:
            secret = self.settings.payment_stripe_webhook_secret
        else:
            async with self.sessions() as session, session.begin():
                keys = await self.tenants.stripe_keys(session, tenant)
            secret = keys.webhook_secret if keys is not None else ""
        if "stripe" not in self.providers or not secret:
            raise NotFound(
                "Stripe is not enabled on this installation or for this tenant.",
                code="provider-disabled",
            )
        try:
            event = stripe.Webhook.construct_event(payload, signature, secret)
        except stripe.SignatureVerificationError as exc:
            raise InvalidSignature(
                "The Stripe-Signature header does not match this payload (wrong secret, "
                "altered body, or a timestamp older than 5 minutes)."
            ) from exc
        except ValueError as exc:
            raise InvalidWebhook("The webhook body is not a Stripe event.") from exc
        kind = str(event["type"])
        obj: dict[str, Any] = event["data"]["object"].to_dict()
        if not kind.startswith("checkout.session."):
            return "ignored"
        truth = truth_of_session(obj)
        if kind == "checkout.session.async_payment_failed":
            truth = Truth(status="failed", reason="async_payment_failed")
        async with self.sessions() as session, session.begin():
            inbox = "stripe-webhook" if tenant is None else f"stripe-webhook:{tenant}"
            if not await first_delivery(session, inbox, str(event["id"])):
                return "duplicate"
            query = select(Payment).where(Payment.provider_payment_id == str(obj.get("id")))
            if tenant is not None:
                query = query.where(Payment.tenant == tenant)
            payment = (await session.execute(query)).scalar_one_or_none()
            if payment is None:
                log.warning("stripe_webhook_unknown_session", event_type=kind)
                return "unknown"
            await self._apply_truth(
                session, payment.tenant, payment.id, truth, f"stripe_webhook:{event['id']}"
            )
            return "applied"
