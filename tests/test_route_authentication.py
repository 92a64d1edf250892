"""Deny by default: every route of every service refuses a call without an access token,
unless the service lists it in PUBLIC_ROUTES (OIDC endpoints, payment pages, webhooks)."""

from __future__ import annotations

import importlib
import re

import pytest
from fastapi.routing import APIRoute

from socle.testing import running
from tests.shared.test_services_start import SERVICES, build

ALWAYS_PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/redoc",
    "/docs/oauth2-redirect",
}


@pytest.mark.parametrize("service", SERVICES)
async def test_every_route_requires_a_token(service, migrated_database, nats_server, issuer):
    app_module = importlib.import_module(f"socle_{service}.app")
    public = ALWAYS_PUBLIC | set(getattr(app_module, "PUBLIC_ROUTES", frozenset()))
    app = build(
        service,
        database_url=migrated_database(service),
        nats_url=nats_server.url,
        issuer=issuer.issuer,
        jwks_url=issuer.jwks_url,
    )
    checked = []
    async with running(app) as client:
        for route in app.routes:
            if not isinstance(route, APIRoute) or route.path in public:
                continue
            path = re.sub(r"\{[^}:]+(:path)?\}", "00000000000000000000000000000000", route.path)
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                response = await client.request(method, path)
                assert response.status_code == 401, (
                    f"{method} {route.path} answered {response.status_code} without a token"
                )
                assert response.headers["content-type"] == "application/problem+json"
                checked.append(f"{method} {route.path}")
    assert len(checked) == len(set(checked))
