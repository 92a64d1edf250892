"""Application factory of the payment service."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence

import structlog
from fastapi import FastAPI

from socle import account_mails
from socle.aio import stop_task
from socle.bus import ConsumerSpec
from socle.export_parts import export_consumers
from socle.locks import exclusive
from socle.service import Runtime, create_service_app
from socle_payment import payer_mails, privacy, retention
from socle_payment.api import admin, finance, pages, payments, webhooks
from socle_payment.payments import Payments
from socle_payment.providers import PaymentProvider, build_providers
from socle_payment.settings import PaymentSettings

log = structlog.get_logger("socle_payment")

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


async def _sweep(
    domain: Payments, every: float, report_backlog: Callable[[str, int], None] | None
) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            async with exclusive(domain.sessions, "payment-expiry") as held:
                # not held: another replica is sweeping now
                count = await domain.expire_stale(report_backlog=report_backlog) if held else 0
            if count:
                log.info("payments_expired", count=count)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("payment_expiry_failed", error=repr(exc))


def create_app(
    settings: PaymentSettings | None = None,
    providers: Mapping[str, PaymentProvider] | None = None,
) -> FastAPI:
    """Build the payment service; ``providers`` adds or replaces acquirers by name."""
    settings = settings or PaymentSettings()
    chosen = build_providers(settings)
    chosen.update(providers or {})

    async def start(runtime: Runtime) -> None:
        domain = Payments(settings=settings, providers=chosen, sessions=runtime.sessions)
        runtime.extras["payments"] = domain
        account_mails.serve(
            runtime.bus,
            functools.partial(payer_mails.answer, runtime.sessions),
            prefix=account_mails.PAYMENT_SUBJECT_PREFIX,
            queue="payment-payer-mail",
        )
        if settings.payment_expiry_sweep_seconds > 0:
            runtime.extras["expiry_task"] = asyncio.create_task(
                _sweep(
                    domain,
                    settings.payment_expiry_sweep_seconds,
                    runtime.metrics.report_backlog if runtime.metrics else None,
                ),
                name="payment-expiry",
            )
        if settings.retention_purge_seconds > 0:
            runtime.extras["retention_task"] = asyncio.create_task(
                retention.run(runtime.sessions, settings), name="payment-retention"
            )

    async def stop(runtime: Runtime) -> None:
        await stop_task(runtime.extras.pop("expiry_task", None))
        await stop_task(runtime.extras.pop("retention_task", None))

    def consumers(runtime: Runtime) -> Sequence[ConsumerSpec]:
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
        consumers=consumers,
        on_startup=[start],
        on_shutdown=[stop],
    )
