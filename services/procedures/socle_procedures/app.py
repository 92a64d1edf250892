"""Application factory of the procedures service."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import httpx
from fastapi import FastAPI

from socle import account_mails
from socle.bus import ConsumerSpec
from socle.export_parts import export_consumers
from socle.inbox import exactly_once
from socle.locks import exclusive_pass
from socle.periodic import Periodic
from socle.service import Runtime, create_service_app
from socle.web import ASSETS_PATH, assets_router
from socle_procedures import mandate_mails, privacy, request_mails, retention
from socle_procedures.api import (
    backoffice,
    catalogue,
    mandates,
    procedures,
    requests,
    statistics,
)
from socle_procedures.backoffice import pages as backoffice_pages
from socle_procedures.backoffice import refunds as refund_pages
from socle_procedures.charging import Charging, payment_consumer
from socle_procedures.context import ProceduresContext
from socle_procedures.events import Site
from socle_procedures.mediation import pages as mediation_pages
from socle_procedures.payment_client import PaymentClient
from socle_procedures.portal import auth, pages
from socle_procedures.portal import decision as decision_page
from socle_procedures.portal.context import Portal
from socle_procedures.portal.oidc import OidcClient
from socle_procedures.settings import ProceduresSettings
from socle_procedures.storage_client import StorageClient

#: Routes a browser calls without an access token: the citizen portal (its own login
#: session, CSRF on every form) and its stylesheet.
PUBLIC_ROUTES: frozenset[str] = frozenset(
    {
        "/",
        "/procedures/{slug}",
        "/procedures/{slug}/start",
        "/requests/{request_id}",
        "/requests/{request_id}/steps/{step_id}",
        "/requests/{request_id}/check",
        "/requests/{request_id}/pay",
        "/requests/{request_id}/payment-return",
        "/requests/{request_id}/submit",
        "/my-requests",
        "/auth/login",
        "/auth/callback",
        "/auth/logout",
        "/logged-out",
        "/lang/{code}",
        ASSETS_PATH + "/socle.css",
    }
    | backoffice_pages.ROUTES
    | decision_page.ROUTES
    | refund_pages.ROUTES
    | mediation_pages.ROUTES
    | statistics.ROUTES
)

PAYMENT_OUTCOMES = ("payment.succeeded", "payment.failed", "payment.expired", "payment.cancelled")


def create_app(
    settings: ProceduresSettings | None = None,
    *,
    payment_transport: httpx.AsyncBaseTransport | None = None,
    identity_transport: httpx.AsyncBaseTransport | None = None,
    storage_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Build the procedures service; the transports reach the other services in-process
    (tests)."""
    settings = settings or ProceduresSettings()

    async def context(runtime: Runtime[ProceduresContext]) -> ProceduresContext:
        client = PaymentClient(
            settings.payment_url,
            timeout=settings.payment_timeout_seconds,
            transport=payment_transport,
        )
        charging = Charging(
            client=client, sessions=runtime.sessions, public_url=settings.public_url
        )
        oidc = OidcClient(
            settings.issuer,
            settings.portal_client_id,
            settings.portal_client_secret,
            f"{settings.public_url.rstrip('/')}/auth/callback",
            transport=identity_transport,
        )
        site = Site(settings.portal_commune_name, settings.public_url)
        account_mails.serve_lookup(
            runtime.bus,
            runtime.sessions,
            functools.partial(mandate_mails.lookup, site),
            prefix=account_mails.MANDATE_SUBJECT_PREFIX,
            queue="procedures-mandate-mail",
        )
        account_mails.serve_lookup(
            runtime.bus,
            runtime.sessions,
            request_mails.lookup,
            prefix=account_mails.REQUEST_SUBJECT_PREFIX,
            queue="procedures-request-mail",
        )
        return ProceduresContext(
            sessions=runtime.sessions,
            charging=charging,
            portal=Portal.build(settings, oidc),
            site=site,
            storage=StorageClient(
                settings.storage_url,
                timeout=settings.storage_timeout_seconds,
                transport=storage_transport,
            ),
        )

    def periodic(runtime: Runtime[ProceduresContext]) -> Sequence[Periodic]:
        sessions = runtime.sessions
        every = settings.anonymise_sweep_seconds
        # one replica at a time: the others find the lock held and skip their turn
        return [
            Periodic(
                "procedures_anonymise",
                every,
                exclusive_pass(
                    sessions, "procedures-anonymise", lambda: privacy.anonymise_due(sessions)
                ),
            ),
            Periodic(
                "procedures-retention",
                every,
                exclusive_pass(
                    sessions,
                    "procedures-retention",
                    functools.partial(retention.purge_once, sessions, settings),
                ),
            ),
        ]

    async def stop(runtime: Runtime[ProceduresContext]) -> None:
        await runtime.context.charging.client.close()
        await runtime.context.portal.oidc.close()
        await runtime.context.storage.close()

    def consumers(runtime: Runtime[ProceduresContext]) -> Sequence[ConsumerSpec]:
        return [
            ConsumerSpec(
                durable="procedures-payment-outcomes",
                subjects=[f"socle.*.{t}" for t in PAYMENT_OUTCOMES],
                handler=exactly_once(
                    runtime.sessions, "procedures-payments", payment_consumer(runtime.sessions)
                ),
            ),
            privacy.consumer(runtime.sessions),
            *export_consumers(
                privacy.SERVICE, runtime.sessions, privacy.export_person, settings, settings.issuer
            ),
        ]

    return create_service_app(
        name="procedures",
        settings=settings,
        routers=[
            procedures.router,
            requests.router,
            backoffice.router,
            mandates.router,
            statistics.router,
            catalogue.router,
            retention.router,
            retention.holds_router,
            auth.router,
            pages.router,
            backoffice_pages.router,
            decision_page.router,
            refund_pages.router,
            mediation_pages.router,
            assets_router(),
        ],
        description="Procedures a commune declares, requests citizens make, and the citizen "
        "portal.",
        context=context,
        consumers=consumers,
        periodic=periodic,
        on_shutdown=[stop],
    )
