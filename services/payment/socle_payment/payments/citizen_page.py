"""The citizen's payment page: find by token, go to the provider, or pay in the sandbox."""

from __future__ import annotations

from socle.problems import Unprocessable
from socle_payment.errors import PaymentNotFound, PaymentNotOpen, ProviderDown
from socle_payment.models import Payment
from socle_payment.payments.ledger import OPEN, PaymentsBase
from socle_payment.providers import ProviderUnavailable

SANDBOX_SUCCESS_CARD = "4242424242424242"
SANDBOX_DECLINE_CARD = "4000000000000002"


class CitizenPage(PaymentsBase):
    """What the citizen's page (``/pay/{token}``) does."""

    # ---- the citizen's page --------------------------------------------------------------

    async def by_token(self, token: str) -> Payment:
        async with self.sessions() as session, session.begin():
            return await self._by_token(session, token)

    async def open_at_provider(self, payment: Payment) -> str:
        """Where to send the citizen for a provider with its own page; opens it if needed."""
        if payment.provider_url:
            return payment.provider_url
        provider = self.provider_of(payment)
        try:
            opened = await provider.start(payment)
        except ProviderUnavailable as exc:
            raise ProviderDown(
                "The payment provider cannot be reached; your payment is kept, try again "
                "in a moment.",
                headers={"Retry-After": "30"},
            ) from exc
        async with self.sessions() as session, session.begin():
            locked = await self._by_token(session, payment.page_token, lock=True)
            if not locked.provider_url:
                locked.provider_payment_id = opened.provider_payment_id
                locked.provider_url = opened.provider_url
            return locked.provider_url or ""

    async def sandbox_pay(self, token: str, card_number: str) -> Payment:
        digits = "".join(ch for ch in card_number if ch.isdigit())
        async with self.sessions() as session, session.begin():
            payment = await self._by_token(session, token, lock=True)
            provider = self.providers.get(payment.provider)
            if provider is None or provider.page != "test-cards":
                raise PaymentNotFound("This payment page does not exist.")
            if payment.status not in OPEN:
                raise PaymentNotOpen(f"This payment is already {payment.status}.")
            if digits == SANDBOX_SUCCESS_CARD:
                payment.amount_captured = payment.amount
                await self._transition(
                    session, payment, "succeeded", "sandbox_card_accepted", amount=payment.amount
                )
            elif digits == SANDBOX_DECLINE_CARD:
                payment.failure_reason = "card_declined"
                await self._transition(session, payment, "failed", "sandbox_card_declined")
            else:
                raise Unprocessable(
                    "Use a test card: 4242 4242 4242 4242 (accepted) or "
                    "4000 0000 0000 0002 (declined).",
                    code="unknown-test-card",
                )
            return payment
