"""Identity's /token while its database is down: 503 with Retry-After, then back by itself."""

from __future__ import annotations

import asyncio

from socle_dev.testing import running
from socle_identity.app import create_app
from tests.support.identity import ISSUER, back_office, quick_settings, tenant_with_client
from tests.support.infra import PrivatePostgres, create_database, migrate


async def test_token_answers_503_while_the_database_is_down(tmp_path, nats_server, tenant):
    postgres = await asyncio.to_thread(PrivatePostgres, tmp_path / "pg")
    try:
        url = create_database(postgres.url, "identity")
        migrate(url, "identity")
        settings = quick_settings(
            url,
            nats_server.url,
            ISSUER,
            db_pool_timeout=0.5,
        )
        app = create_app(settings)
        async with running(app) as client:
            registered, secret = await tenant_with_client(
                app.state.runtime.sessions, tenant, back_office(["payments:read"]), name="Commune"
            )
            assert secret is not None
            ask = {"grant_type": "client_credentials", "scope": "payments:read"}
            credentials = (registered.client_id, secret)

            await asyncio.to_thread(postgres.stop)
            down = await client.post("/token", data=ask, auth=credentials)
            assert down.status_code == 503, down.text
            assert down.headers["content-type"] == "application/problem+json"
            assert down.headers["retry-after"]
            assert down.json()["type"].endswith("/database-unavailable")

            await asyncio.to_thread(postgres.start)
            up = await client.post("/token", data=ask, auth=credentials)
            assert up.status_code == 200, up.text
            assert up.json()["access_token"]
    finally:
        await asyncio.to_thread(postgres.close)
