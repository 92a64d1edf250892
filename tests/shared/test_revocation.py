"""A token revoked at identity stops working at every service within seconds: the
``token.revoked`` events on the bus feed each process's deny list."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

import pytest
from fastapi import APIRouter

from socle.auth import Principal, principal_dep
from socle.bus import Bus
from socle.events import CloudEvent
from socle.service import create_service_app
from socle_dev.testing import eventually, running
from tests.support.services import service_settings

AUDIENCE = "socle-revtest"


def revoked(tenant: str, claim: str, value: str, *, issued_before: int | None = None) -> CloudEvent:
    now = int(time.time())
    return CloudEvent.new(
        service="identity",
        type="token.revoked",
        tenant=tenant,
        subject=f"{claim}:{value}",
        data={
            "claim": claim,
            "value": value,
            "issued_before": now if issued_before is None else issued_before,
            "expires_at": now + 600,
        },
    )


def build_app(migrated_database, nats_server, issuer):
    router = APIRouter()

    @router.get("/v1/things")
    async def things(
        principal: Annotated[Principal, principal_dep("things:read")],
    ) -> dict[str, str]:
        return {"subject": principal.subject}

    settings = service_settings(
        migrated_database("procedures"),
        nats_server.url,
        issuer,
        audience=AUDIENCE,
    )
    return create_service_app(name="revtest", settings=settings, routers=[router])


@pytest.mark.parametrize("claim", ["jti", "gid", "sid", "client_id"])
async def test_revoked_token_is_refused_within_seconds(
    claim, migrated_database, nats_server, issuer, tenant
):
    value = uuid.uuid4().hex
    claims = {"jti": uuid.uuid4().hex, "sid": "s-other", "gid": "g-other", "client_id": "c-other"}
    claims[claim] = value
    token = issuer.token(audience=AUDIENCE, tenant=tenant, scopes=["things:read"], **claims)
    sibling = issuer.token(audience=AUDIENCE, tenant=tenant, scopes=["things:read"])
    bus = Bus(url=nats_server.url)
    await bus.connect()
    try:
        async with running(build_app(migrated_database, nats_server, issuer)) as client:
            headers = {"Authorization": f"Bearer {token}"}
            assert (await client.get("/v1/things", headers=headers)).status_code == 200
            await bus.publish_event(revoked(tenant, claim, value))

            async def refused() -> bool:
                return (await client.get("/v1/things", headers=headers)).status_code == 401

            assert await eventually(refused, "the revoked token to be refused") < 5.0
            response = await client.get("/v1/things", headers=headers)
            assert response.json()["detail"] == "The access token has been revoked."
            other = {"Authorization": f"Bearer {sibling}"}
            assert (await client.get("/v1/things", headers=other)).status_code == 200
    finally:
        await bus.close()


async def test_a_process_starting_later_knows_earlier_revocations(
    migrated_database, nats_server, issuer, tenant
):
    jti = uuid.uuid4().hex
    token = issuer.token(audience=AUDIENCE, tenant=tenant, scopes=["things:read"], jti=jti)
    bus = Bus(url=nats_server.url)
    await bus.connect()
    try:
        await bus.publish_event(revoked(tenant, "jti", jti))
    finally:
        await bus.close()
    async with running(build_app(migrated_database, nats_server, issuer)) as client:
        headers = {"Authorization": f"Bearer {token}"}

        async def refused() -> bool:
            return (await client.get("/v1/things", headers=headers)).status_code == 401

        await eventually(refused, "the revocation published before start-up to apply")


async def test_tokens_issued_after_the_revocation_and_other_tenants_still_work(
    migrated_database, nats_server, issuer, tenant
):
    client_id = f"app-{uuid.uuid4().hex[:8]}"
    before = int(time.time()) - 60
    old = issuer.token(
        audience=AUDIENCE, tenant=tenant, scopes=["things:read"], client_id=client_id, iat=before
    )
    new = issuer.token(
        audience=AUDIENCE, tenant=tenant, scopes=["things:read"], client_id=client_id
    )
    elsewhere = issuer.token(
        audience=AUDIENCE,
        tenant="elsewhere",
        scopes=["things:read"],
        client_id=client_id,
        iat=before,
    )
    bus = Bus(url=nats_server.url)
    await bus.connect()
    try:
        async with running(build_app(migrated_database, nats_server, issuer)) as client:
            await bus.publish_event(revoked(tenant, "client_id", client_id, issued_before=before))

            async def refused() -> bool:
                answer = await client.get("/v1/things", headers={"Authorization": f"Bearer {old}"})
                return answer.status_code == 401

            await eventually(refused, "the old token of the rotated client to be refused")
            for token in (new, elsewhere):
                answer = await client.get(
                    "/v1/things", headers={"Authorization": f"Bearer {token}"}
                )
                assert answer.status_code == 200
    finally:
        await bus.close()
