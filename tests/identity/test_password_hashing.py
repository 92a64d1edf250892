"""Argon2id hashing runs off the event loop: while a burst of logins is being hashed (at the
production cost), the service still answers its health check."""

from __future__ import annotations

import asyncio
import uuid

from socle_dev.testing import eventually, running
from socle_identity import directory
from socle_identity.app import create_app
from socle_identity.settings import IdentitySettings
from tests.support.identity import ISSUER, REDIRECT, hidden, pkce_pair

BURST = 16


async def test_healthz_answers_while_a_burst_of_logins_is_hashing(
    migrated_database, nats_server, tenant
):
    settings = IdentitySettings(
        database_url=migrated_database("identity"),
        nats_url=nats_server.url,
        issuer=ISSUER,
        login_max_failures=1000,
        argon2_threads=2,
    )  # the default Argon2id cost: tens of milliseconds a hash
    app = create_app(settings)
    async with running(app) as client:
        runtime = app.state.runtime
        passwords = runtime.context.provider.passwords
        async with runtime.sessions() as session, session.begin():
            await directory.create_tenant(session, slug=tenant, name="Commune")
            rp, _ = await directory.register_client(
                session,
                tenant=tenant,
                spec=directory.ClientSpec(name="App", public=True, redirect_uris=[REDIRECT]),
            )
        _, challenge = pkce_pair()
        page = await client.get(
            "/authorize",
            params={
                "response_type": "code",
                "client_id": rp.client_id,
                "redirect_uri": REDIRECT,
                "scope": "openid",
                "state": "s",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        assert page.status_code == 200, page.text
        form = {
            "csrf_token": hidden(page.text, "csrf_token"),
            "request": hidden(page.text, "request"),
            "password": "not the password",
        }

        async def login(n: int) -> int:
            answer = await client.post(
                "/login", data=form | {"email": f"nobody{n}-{uuid.uuid4().hex}@example.ch"}
            )
            return answer.status_code

        async def hashing() -> bool:
            return bool(passwords.in_flight >= 2)

        burst = [asyncio.create_task(login(n)) for n in range(BURST)]
        try:
            await eventually(hashing, "the burst to be hashing")
            health = await client.get("/healthz")
            assert health.status_code == 200
            # it answered while hashes of the burst were still queued or running
            assert passwords.in_flight > 0
        finally:
            statuses = await asyncio.gather(*burst)
        assert set(statuses) == {401}, statuses  # every login refused: no such account
