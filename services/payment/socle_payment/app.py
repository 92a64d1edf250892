"""Application factory of the payment service."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from fastapi import FastAPI

from socle import account_mails
from socle.bus import ConsumerSpec
from socle.export_parts import export_consumers
from socle.locks import exclusive_pass
from socle.periodic import Periodic
from socle.service import Runtime, create_service_app
from socle_payment import payer_mails, privacy, retention
from socle_payment.api import admin, finance, pages, payments, webhooks
from socle_payment.api.payments import payment_out, refund_out
from socle_payment.context import PaymentContext
from socle_payment.payments import Payments
from socle_payment.providers import PaymentProvider, build_providers
from socle_payment.settings import PaymentSettings

#: Routes a citizen's browser or a provider calls without an access token: the payment page
#: (addressed by an unguessable token) and the Stripe webhook (authenticated by its signature).
PUBLIC_ROUTES: frozenset[str] = frozenset(
    {
        "/pay/{token}",
        "/pay/{token}/qr-bill.svg",
        "/pay/{token}/qr-bill.pdf",
        "/v1/webhooks/stripe",
        "/v1/providers/stripe/webhook/{tenant}",
    }
)


def create_app(
    settings: PaymentSettings | None = None,
    providers: Mapping[str, PaymentProvider] | None = None,
) -> FastAPI:
    """Build the payment service; ``providers`` adds or replaces acquirers by name."""
    settings = settings or PaymentSettings()
    chosen = build_providers(settings)
    chosen.update(providers or {})

    async def context(runtime: Runtime[PaymentContext]) -> PaymentContext:
        account_mails.serve_lookup(
            runtime.bus,
            runtime.sessions,
            payer_mails.lookup,
            prefix=account_mails.PAYMENT_SUBJECT_PREFIX,
            queue="payment-payer-mail",
        )
        return PaymentContext(
            payments=Payments(settings=settings, providers=chosen, sessions=runtime.sessions)
        )

    def periodic(runtime: Runtime[PaymentContext]) -> Sequence[Periodic]:
        payments, report = runtime.context.payments, runtime.metrics.report_backlog
        purge = functools.partial(retention.purge_once, runtime.sessions, settings)
        answers = (refund_out, functools.partial(payment_out, payments))
        return [
            Periodic(
                "payment_expiry",
                settings.payment_expiry_sweep_seconds,
                # one replica at a time: the others find the lock held and skip their turn
                exclusive_pass(
                    runtime.sessions,
                    "payment-expiry",
                    lambda: payments.expire_stale(report_backlog=report),
                ),
            ),
            Periodic(
                "payment_cut_short",
                settings.payment_cut_short_sweep_seconds,
                exclusive_pass(
                    runtime.sessions,
                    "payment-cut-short",
                    lambda: payments.finish_cut_short(answers, report_backlog=report),
                ),
            ),
            Periodic(
                "payment-retention",
                settings.retention_purge_seconds,
                exclusive_pass(runtime.sessions, "payment-retention", purge),
            ),
        ]

    def consumers(runtime: Runtime[PaymentContext]) -> Sequence[ConsumerSpec]:
        return [
            privacy.consumer(runtime.sessions),
            *export_consumers(
                privacy.SERVICE, runtime.sessions, privacy.export_person, settings, settings.issuer
            ),
        ]

    return create_service_app(
        name="payment",
        settings=settings,
        routers=[
            payments.router,
            finance.router,
            webhooks.router,
            pages.router,
            retention.router,
            retention.holds_router,
            admin.router,
        ],
        description="Fees paid online (Stripe, sandbox) or by Swiss QR-bill, refunds and "
        "reconciliation.",
        context=context,
        consumers=consumers,
        periodic=periodic,
    )
