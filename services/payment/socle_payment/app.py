"""Application factory of the payment service."""

from fastapi import FastAPI

from socle.service import create_service_app
from socle_payment.settings import PaymentSettings


def create_app(settings: PaymentSettings | None = None) -> FastAPI:
    settings = settings or PaymentSettings()
    return create_service_app(
        name="payment",
        settings=settings,
        routers=[],
        description="Fees paid online (Stripe, sandbox) or by Swiss QR-bill, refunds and reconciliation.",
    )
