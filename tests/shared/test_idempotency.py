"""Idempotency-Key: one execution, the same answer on replay, 422 for another body."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from socle.auth import STAFF_ROLES, Principal
from socle.db import create_engine, create_sessionmaker, idempotency_table, infra_metadata, utcnow
from socle.idempotency import IdempotencyKey, fingerprint, idempotent_post, run_idempotent
from socle.problems import Unprocessable, install_problem_handlers
from socle_dev.testing import eventually

charges = Table(
    "charges",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("tenant", String(64)),
    Column("amount", Integer),
)


@pytest.fixture
async def charge_table(engine):
    async with engine.begin() as conn:
        await conn.run_sync(charges.metadata.create_all)


def charge(tenant: str, amount: int, hold_until=None):
    """The action: a charge row; ``hold_until`` (a probe) keeps it open until it is true."""

    async def action(session):
        if hold_until is not None:
            await eventually(hold_until, "the duplicate request to arrive")
        new_id = (
            await session.execute(
                insert(charges).values(tenant=tenant, amount=amount).returning(charges.c.id)
            )
        ).scalar_one()
        return 201, {"id": new_id, "amount": amount}

    return action


async def count(sessions, tenant: str) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(charges).where(charges.c.tenant == tenant)
            )
            or 0
        )


async def test_concurrent_duplicates_charge_once_and_get_the_same_answer(
    charge_table, sessions, tenant
):
    key = uuid.uuid4().hex
    arrived: list[int] = []

    async def both_arrived() -> bool:  # the first charge waits while the duplicate comes in
        return len(arrived) >= 2

    async def post():
        arrived.append(1)
        async with sessions() as session:
            return await run_idempotent(
                session,
                scope=tenant,
                key=key,
                body={"amount": 150},
                action=charge(tenant, 150, both_arrived),
            )

    first, second = await asyncio.gather(post(), post())
    assert first == second
    assert first[0] == 201
    assert await count(sessions, tenant) == 1
    assert await post() == first  # a later replay too


async def test_concurrent_duplicates_on_sqlite_charge_once(tmp_path, tenant):
    """The embedded database of ``make run`` serialises the duplicates the same way."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/socle.db")
    async with engine.begin() as conn:
        await conn.run_sync(infra_metadata.create_all)
        await conn.run_sync(charges.metadata.create_all)
    sessions = create_sessionmaker(engine)
    try:
        await test_concurrent_duplicates_charge_once_and_get_the_same_answer(None, sessions, tenant)
    finally:
        await engine.dispose()


async def test_same_key_other_body_is_refused(charge_table, sessions, tenant):
    key = uuid.uuid4().hex
    async with sessions() as session:
        await run_idempotent(
            session, scope=tenant, key=key, body={"amount": 150}, action=charge(tenant, 150)
        )
    async with sessions() as session:
        with pytest.raises(Unprocessable, match="different request body"):
            await run_idempotent(
                session, scope=tenant, key=key, body={"amount": 999}, action=charge(tenant, 999)
            )
    assert await count(sessions, tenant) == 1


async def test_keys_are_scoped_per_tenant(charge_table, sessions, tenant):
    key = "order-1"
    for scope in (tenant, tenant + "x"):
        async with sessions() as session:
            await run_idempotent(
                session, scope=scope, key=key, body={"amount": 1}, action=charge(tenant, 1)
            )
    assert await count(sessions, tenant) == 2


async def test_failed_action_leaves_the_key_free(charge_table, sessions, tenant):
    key = uuid.uuid4().hex

    async def fails(session):
        raise Unprocessable("amount over the cap")

    async with sessions() as session:
        with pytest.raises(Unprocessable):
            await run_idempotent(session, scope=tenant, key=key, body={}, action=fails)
    async with sessions() as session:
        status, _ = await run_idempotent(
            session, scope=tenant, key=key, body={}, action=charge(tenant, 5)
        )
    assert status == 201


@pytest.mark.parametrize("value", ["", "   "])
async def test_an_empty_key_is_refused_not_shared(value):
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/v1/things")
    async def create(key: IdempotencyKey = None) -> dict[str, str | None]:
        return {"key": key}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        refused = await client.post("/v1/things", headers={"Idempotency-Key": value})
        assert refused.status_code == 400
        assert refused.headers["content-type"] == "application/problem+json"
        assert "Idempotency-Key" in refused.json()["detail"]
        assert (await client.post("/v1/things")).json() == {"key": None}
        kept = await client.post("/v1/things", headers={"Idempotency-Key": "k-1"})
        assert kept.json() == {"key": "k-1"}


def staff(tenant: str) -> Principal:
    return Principal(
        subject="agent-1",
        tenant=tenant,
        client_id="backoffice",
        scopes=frozenset(),
        roles=frozenset(STAFF_ROLES),
    )


async def store_the_old_way(sessions, scope: str, key: str, body: dict, answer: dict) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            insert(idempotency_table).values(
                scope=scope,
                key=key,
                fingerprint=fingerprint(body),
                status_code=201,
                response=json.dumps(answer),
                created_at=utcnow(),
            )
        )


@pytest.mark.parametrize(
    ("service", "action", "old_scope"),
    [
        ("identity", "users", "{tenant}:users"),
        ("notify", "notifications:sms", "notifications:{tenant}:sms"),
        ("notify", "batches", "batches:{tenant}"),
        ("procedures", "procedures:create", "procedures:{tenant}:create"),
    ],
)
async def test_a_key_stored_under_its_scope_of_the_release_before_replays(
    charge_table, sessions, tenant, service, action, old_scope
):
    key, body = uuid.uuid4().hex, {"amount": 150}
    await store_the_old_way(sessions, old_scope.format(tenant=tenant), key, body, {"id": 7})
    ran: list[int] = []

    async def create(session):
        ran.append(1)
        return 201, {"id": 8}

    answer = await idempotent_post(
        sessions, staff(tenant), service=service, action=action, key=key, body=body, create=create
    )
    assert (answer.status_code, json.loads(answer.body)) == (201, {"id": 7})
    assert ran == []  # replayed, not run again
    with pytest.raises(Unprocessable, match="different request body"):
        await idempotent_post(
            sessions,
            staff(tenant),
            service=service,
            action=action,
            key=key,
            body={"amount": 999},
            create=create,
        )


async def test_a_persons_key_never_replays_a_key_the_commune_stored_the_old_way(
    charge_table, sessions, tenant
):
    key, body = uuid.uuid4().hex, {"amount": 150}
    await store_the_old_way(sessions, f"batches:{tenant}", key, body, {"id": 7})
    citizen = Principal(
        subject="person-1", tenant=tenant, client_id="portal", scopes=frozenset(), roles=frozenset()
    )

    async def create(session):
        return 201, {"id": 8}

    answer = await idempotent_post(
        sessions, citizen, service="notify", action="batches", key=key, body=body, create=create
    )
    assert json.loads(answer.body) == {"id": 8}
