"""The token endpoint serves client credentials from memory (client record, active key) and
still honours every change: made here at once, made by another process within seconds."""

from __future__ import annotations

import asyncio

from sqlalchemy import event

from socle_dev.testing import eventually
from tests.support.identity import cli


async def client_token(identity, client_id: str, secret: str | None):
    return await identity.client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "payments:read"},
        auth=(client_id, secret or ""),
    )


async def test_a_cached_client_gets_tokens_without_touching_the_database(identity, commune):
    client_id, secret = await commune.add_client(
        name="ERP", grant_types=["client_credentials"], scopes=["payments:read"]
    )
    assert (await client_token(identity, client_id, secret)).status_code == 200
    statements: list[str] = []
    engine = identity.app.state.runtime.engine.sync_engine

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        for _ in range(5):
            response = await client_token(identity, client_id, secret)
            assert response.status_code == 200, response.text
        wrong = await client_token(identity, client_id, "not-the-secret")
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statements == []


async def test_a_client_disabled_by_another_process_stops_within_seconds(
    identity, commune, migrated_database
):
    client_id, secret = await commune.add_client(
        name="ERP", grant_types=["client_credentials"], scopes=["payments:read"]
    )
    assert (await client_token(identity, client_id, secret)).status_code == 200
    url = identity.app.state.runtime.settings.database_url
    disabled = await asyncio.to_thread(cli, url, "disable-client", client_id)
    assert disabled.returncode == 0, disabled.stderr

    async def refused() -> bool:
        return (await client_token(identity, client_id, secret)).status_code == 401

    await eventually(
        refused,
        "the disabled client to be refused",
        within=identity.provider.settings.cache_seconds + 10,
    )
    response = await client_token(identity, client_id, secret)
    assert response.json()["error"] == "invalid_client"


async def test_a_token_from_memory_is_answered_and_counted_like_any_other(identity, commune):
    client_id, secret = await commune.add_client(
        name="ERP", grant_types=["client_credentials"], scopes=["payments:read"]
    )
    for _ in range(3):
        response = await client_token(identity, client_id, secret)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        assert response.json()["token_type"] == "Bearer"
    # refusals after the client is cached: another authentication method, a scope not given
    posted = await identity.client.post(
        "/token",
        data={
            "grant_type": "client_credentials",
            "scope": "payments:read",
            "client_id": client_id,
            "client_secret": secret,
        },
    )
    assert posted.status_code == 400 and posted.json()["error"] == "invalid_client"
    refused = await identity.client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "payments:refund"},
        auth=(client_id, secret),
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
    metrics = (await identity.client.get("/metrics")).text
    assert 'method="POST",route="/token",service="identity",status="200"' in metrics
