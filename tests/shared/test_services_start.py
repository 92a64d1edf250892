"""Every service starts on migrated PostgreSQL and real NATS and answers its operations
endpoints."""

from __future__ import annotations

import pytest

from socle.db import create_engine
from socle_dev.testing import running
from tests.support.services import SERVICES, build


@pytest.mark.parametrize("service", SERVICES)
async def test_service_answers_health_ready_metrics_openapi(
    service, migrated_database, nats_server, issuer, request
):
    stores = {}
    if service == "storage":  # its readiness includes the object store
        s3 = request.getfixturevalue("s3_server")
        stores = {
            "s3_endpoint": s3.endpoint,
            "s3_access_key": s3.access_key,
            "s3_secret_key": s3.secret_key,
        }
    app = build(
        service,
        database_url=migrated_database(service),
        nats_url=nats_server.url,
        issuer=issuer.issuer,
        jwks_url=issuer.jwks_url,
        **stores,
    )
    async with running(app) as client:
        assert (await client.get("/healthz")).json()["status"] == "ok"
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"] == "ok"
        assert ready.json()["checks"]["bus"] == "ok"
        if service == "storage":
            assert ready.json()["checks"]["store"] == "ok"
        metrics = await client.get("/metrics")
        assert "http_requests_total" in metrics.text
        spec = (await client.get("/openapi.json")).json()
        assert spec["openapi"].startswith("3.1")


async def test_readyz_names_the_database_when_it_is_down(migrated_database, nats_server, issuer):
    app = build(
        "payment",
        database_url=migrated_database("payment"),
        nats_url=nats_server.url,
        issuer=issuer.issuer,
        jwks_url=issuer.jwks_url,
    )
    async with running(app) as client:
        runtime = app.state.runtime
        healthy_engine = runtime.engine
        runtime.engine = create_engine("postgresql+asyncpg://nobody:x@127.0.0.1:1/none")
        try:
            ready = await client.get("/readyz")
        finally:
            await runtime.engine.dispose()
            runtime.engine = healthy_engine
        assert ready.status_code == 503
        assert ready.headers["content-type"] == "application/problem+json"
        assert ready.json()["checks"]["database"].startswith("down")
        assert ready.json()["checks"]["bus"] == "ok"
        assert "database" in ready.json()["detail"]


async def test_a_service_starts_and_stays_ready_while_the_bus_is_down(
    migrated_database, issuer, tmp_path, tenant
):
    """A NATS outage takes no service out of rotation; once NATS is back the service
    connects by itself and its outbox drains."""
    import nats

    from socle_dev.localinfra import NatsServer, free_port
    from socle_dev.testing import eventually

    server = NatsServer.create(tmp_path / "nats", free_port())
    app = build(
        "payment",
        database_url=migrated_database("payment"),
        nats_url=server.url,
        issuer=issuer.issuer,
        jwks_url=issuer.jwks_url,
        outbox_poll_seconds=0.2,
    )
    token = issuer.token(audience="socle-payment", tenant=tenant, scopes=["payments:write"])
    async with running(app) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["bus"].startswith("down")
        created = await client.post(
            "/v1/payments",
            json={
                "amount": 1500,
                "currency": "CHF",
                "reference": "bus-down",
                "description": "Dog tax",
                "return_url": "https://commune.example/back",
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text
        server.start()
        try:
            seen: list[bytes] = []
            nc = await nats.connect(server.url)
            js = nc.jetstream()

            async def published() -> bool:
                if not seen:
                    try:
                        sub = await js.pull_subscribe(f"socle.{tenant}.payment.created")
                        seen.extend(m.data for m in await sub.fetch(1, timeout=0.5))
                    except Exception:
                        return False
                return bool(seen)

            await eventually(published, "the payment created while NATS was down to be published")
            await nc.close()
            assert (await client.get("/readyz")).json()["checks"]["bus"] == "ok"
        finally:
            server.stop()
