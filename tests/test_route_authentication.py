"""Deny by default: every route of every service refuses a call without an access token,
unless the service lists it in PUBLIC_ROUTES (OIDC endpoints, payment pages, webhooks)."""

from __future__ import annotations

import importlib
import re

import pytest
from fastapi import FastAPI

from socle_dev.testing import running
from tests.support.services import SERVICES, build

ALWAYS_PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/redoc",
    "/docs/oauth2-redirect",
}


def http_routes(app: FastAPI) -> list[tuple[str, set[str]]]:
    """Every (path template, methods) the app serves, routers included."""
    found = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # a router added with include_router
            found += [(ctx.path, set(ctx.methods or ())) for ctx in contexts()]
        elif getattr(route, "methods", None):
            found.append((route.path, set(route.methods)))
    return found


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
    malformed = [
        issuer.token(audience=f"socle-{service}", headers={"typ": typ}, roles=["admin"])
        for typ in (None, 7, ["at+jwt"], {"a": 1})
    ]
    async with running(app) as client:
        for template, methods in http_routes(app):
            if template in public:
                continue
            path = re.sub(r"\{[^}:]+(:path)?\}", "00000000000000000000000000000000", template)
            for method in sorted(methods - {"HEAD", "OPTIONS"}):
                response = await client.request(method, path)
                assert response.status_code == 401, (
                    f"{method} {template} answered {response.status_code} without a token"
                )
                assert response.headers["content-type"] == "application/problem+json"
                for token in malformed:
                    response = await client.request(
                        method, path, headers={"Authorization": f"Bearer {token}"}
                    )
                    assert response.status_code == 401, (
                        f"{method} {template} answered {response.status_code} to a token "
                        "whose typ is not a string"
                    )
                checked.append(f"{method} {template}")
    assert len(checked) == len(set(checked))
    documented = {path for path in app.openapi()["paths"] if path not in public}
    assert documented <= {entry.split(" ", 1)[1] for entry in checked}, "the walk missed routes"
