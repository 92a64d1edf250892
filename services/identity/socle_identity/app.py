"""Application factory of the identity service."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from authlib.oauth2.base import OAuth2Error
from fastapi import FastAPI, Request
from fastapi.responses import Response

from socle import account_mails
from socle.bus import ConsumerSpec
from socle.export_parts import export_consumers
from socle.inbox import exactly_once
from socle.locks import exclusive_pass
from socle.periodic import Periodic
from socle.privacy import PERSON_ERASED, PERSON_EXPORT_READY
from socle.service import Runtime, create_service_app
from socle_identity import erasures, export_links, exports, keys, records
from socle_identity.account_mails import lookup as account_mail_lookup
from socle_identity.api import account, account_pages, admin, oidc, prompts, token_fast_path, web
from socle_identity.api import erasures as erasures_api
from socle_identity.api import exports as exports_api
from socle_identity.api.deps import oauth_error_response
from socle_identity.cache import REFRESH_BATCH
from socle_identity.context import IdentityContext
from socle_identity.provider import Provider
from socle_identity.settings import IdentitySettings

PUBLIC_ROUTES: frozenset[str] = frozenset(
    {
        "/.well-known/openid-configuration",
        "/jwks",
        "/authorize",
        "/token",
        "/introspect",
        "/revoke",
        "/login",
        "/login/totp",
        "/logout",
        "/consent",
        "/select-account",
        "/register",
        "/verify-email",
        "/password-reset",
        "/password-reset/confirm",
        "/federation/start",
        "/federation/callback",
        # the person's own pages: identity's login session (cookie) authenticates them
        "/account/export",
        "/account/exports/{export_id}",
        "/account/exports/{export_id}/archive",
    }
)
"""Routes callable without an access token: the OpenID Connect protocol endpoints (clients
authenticate with their own credentials there), the pages a person sees before login, and
the account pages the login session authenticates."""


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()

    async def context(runtime: Runtime[IdentityContext]) -> IdentityContext:
        provider = Provider.build(settings, runtime.sessions, deny=runtime.deny)
        await keys.ensure_keys(runtime.sessions, provider.keys.encryption)
        account_mails.serve_lookup(
            runtime.bus,
            runtime.sessions,
            functools.partial(account_mail_lookup, provider),
            prefix=account_mails.SUBJECT_PREFIX,
            queue="identity-account-mail",
        )
        # The identity API trusts its own keys, read from its database (and checks revocation).
        runtime.verifier = provider.verifier
        return IdentityContext(provider=provider)

    def periodic(runtime: Runtime[IdentityContext]) -> Sequence[Periodic]:
        async def purge() -> int:
            expired = await export_links.purge_expired(runtime.sessions, settings)
            return expired + await records.purge_records(runtime.sessions, settings)

        # one replica at a time: the others find the lock held and skip their turn
        work = exclusive_pass(runtime.sessions, "identity-export-purge", purge)
        clients = runtime.context.provider.clients
        return [
            Periodic("identity-export-purge", settings.export_purge_seconds, work),
            # per process: the clients this process serves, read again before their time is up
            Periodic(
                "identity-client-cache",
                clients.refresh_every,
                clients.refresh_due,
                full_batch=REFRESH_BATCH,
            ),
        ]

    def consumers(runtime: Runtime[IdentityContext]) -> Sequence[ConsumerSpec]:
        return [
            ConsumerSpec(
                durable="identity-erasure-reports",
                subjects=[f"socle.*.{PERSON_ERASED}"],
                handler=exactly_once(runtime.sessions, "identity-erasures", erasures.on_answer),
                ordered=False,  # each answer is recorded on its own
            ),
            ConsumerSpec(
                durable="identity-export-parts",
                subjects=[f"socle.*.{PERSON_EXPORT_READY}"],
                handler=exactly_once(
                    runtime.sessions, "identity-exports", export_links.part_effect(settings)
                ),
                ordered=False,  # each part is recorded on its own
            ),
            *export_consumers(
                exports.SERVICE, runtime.sessions, exports.export_person, settings, settings.issuer
            ),
        ]

    app = create_service_app(
        name="identity",
        settings=settings,
        routers=[
            oidc.router,
            web.router,
            prompts.router,
            account.router,
            account_pages.router,
            admin.router,
            erasures_api.router,
            exports_api.router,
        ],
        context=context,
        consumers=consumers,
        periodic=periodic,
        description=(
            "OpenID Connect provider: citizens, staff and commune apps log in; every other "
            "service trusts its tokens."
        ),
    )

    @app.exception_handler(OAuth2Error)
    async def _oauth_error(request: Request, exc: OAuth2Error) -> Response:
        return oauth_error_response(exc, issuer=settings.issuer.rstrip("/"))

    token_fast_path.install(app)  # client credentials from memory, below the routing

    return app
