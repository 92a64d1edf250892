"""The token endpoint serves client credentials from memory (client record, active key) and
still honours every change: made here at once, made by another process within seconds."""

from __future__ import annotations

import asyncio

from sqlalchemy import event, text

from socle.db import create_engine
from socle_dev.testing import eventually
from socle_identity.cache import ClientCache
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


class Clock:
    """The cache's clock, moved by the test instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def clients_read(identity, statements: list[str]):
    engine = identity.app.state.runtime.engine.sync_engine

    def seen(_conn, _cursor, statement, *_args) -> None:
        if "FROM clients" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    return lambda: event.remove(engine, "before_cursor_execute", seen)


async def elsewhere(identity, statement: str, **params) -> None:
    """A change made by another process: its own engine, no session hook of ours."""
    engine = create_engine(identity.app.state.runtime.settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement), params)
    finally:
        await engine.dispose()


async def erp_clients(commune, count: int) -> list[str]:
    return [
        (await commune.add_client(name=f"ERP {n}", grant_types=["client_credentials"]))[0]
        for n in range(count)
    ]


async def test_clients_missed_together_and_in_use_are_read_in_one_query(identity, commune):
    ids = await erp_clients(commune, 3)
    clock = Clock()
    cache = ClientCache(identity.sessions, 5, clock=clock)
    statements: list[str] = []
    stop = clients_read(identity, statements)
    try:
        first = await asyncio.gather(*(cache.get(client_id) for client_id in ids))
        assert [c.client.client_id for c in first if c is not None] == ids
        assert len(statements) == 1  # three requests missed at once: one read
        clock.now += 4  # in use, about to expire
        for client_id in ids:
            await cache.get(client_id)
        assert await cache.refresh_due() == 3
        assert len(statements) == 2
        clock.now += 4  # past the first read's time: served from the second read
        for client_id in ids:
            assert await cache.get(client_id) is not None
        assert len(statements) == 2
    finally:
        stop()


async def test_a_client_in_use_changed_elsewhere_is_seen_within_the_cache_time(identity, commune):
    client_id, gone_id = await erp_clients(commune, 2)
    clock = Clock()
    cache = ClientCache(identity.sessions, 5, clock=clock)
    for cid in (client_id, gone_id):
        cached = await cache.get(cid)
        assert cached is not None and cached.client.disabled_at is None
    await elsewhere(
        identity,
        "UPDATE clients SET disabled_at = created_at WHERE client_id = :id",
        id=client_id,
    )
    await elsewhere(identity, "DELETE FROM clients WHERE client_id = :id", id=gone_id)
    clock.now += 4
    assert await cache.refresh_due() == 2  # read again before the 5 s are up
    cached = await cache.get(client_id)
    assert cached is not None and cached.client.disabled_at is not None
    assert await cache.get(gone_id) is None


async def test_a_client_not_asked_for_is_no_longer_read_again(identity, commune):
    (client_id,) = await erp_clients(commune, 1)
    clock = Clock()
    cache = ClientCache(identity.sessions, 5, clock=clock)
    await cache.get(client_id)
    for _ in range(10):  # read again while it was asked for recently, then left to expire
        clock.now += 4
        await cache.refresh_due()
    assert await cache.refresh_due() == 0
    clock.now += 5
    assert cache.entries.get(client_id) is None
