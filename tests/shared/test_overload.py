"""Overload behaves: beyond the bound of requests in flight, or when no database connection
frees up in time, the answer is 503 with Retry-After at once, never a 500 or a long wait."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import APIRouter, FastAPI
from sqlalchemy import text

from socle.overload import InFlightLimit
from socle.problems import PROBLEM_JSON, install_problem_handlers
from socle.service import RuntimeDep, create_service_app
from socle_dev.testing import eventually, running
from tests.support.services import service_settings


async def test_requests_beyond_the_bound_are_refused_at_once():
    release = asyncio.Event()
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(InFlightLimit, limit=2)

    @app.get("/v1/slow")
    async def slow() -> dict[str, str]:
        await release.wait()
        return {"status": "done"}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        held = [asyncio.create_task(client.get("/v1/slow")) for _ in range(2)]

        async def both_held() -> bool:
            return _in_flight(app) >= 2

        await eventually(both_held, "two requests in flight", every=0.01)
        refused = await client.get("/v1/slow")
        assert refused.status_code == 503
        assert refused.headers["content-type"] == PROBLEM_JSON
        assert refused.headers["retry-after"] == "1"
        assert (await client.get("/healthz")).status_code == 200  # probes are always served
        release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
        assert (await client.get("/v1/slow")).status_code == 200


def _in_flight(app: FastAPI) -> int:
    layer = app.middleware_stack
    while layer is not None and not isinstance(layer, InFlightLimit):
        layer = getattr(layer, "app", None)
    return layer.in_flight if isinstance(layer, InFlightLimit) else 0


async def test_a_request_that_gets_no_connection_in_time_is_503(
    migrated_database, nats_server, issuer
):
    release = asyncio.Event()
    holding = asyncio.Event()
    router = APIRouter()

    @router.get("/v1/hold")
    async def hold(runtime: RuntimeDep) -> dict[str, int]:
        async with runtime.engine.connect() as conn:
            holding.set()
            await release.wait()
            return {"n": (await conn.execute(text("SELECT 1"))).scalar_one()}

    @router.get("/v1/quick")
    async def quick(runtime: RuntimeDep) -> dict[str, int]:
        async with runtime.engine.connect() as conn:
            return {"n": (await conn.execute(text("SELECT 1"))).scalar_one()}

    settings = service_settings(
        migrated_database("procedures"),
        nats_server.url,
        issuer,
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout=0.5,
        max_requests_in_flight=10,  # above the pool: the pool is what runs out here
    )
    app = create_service_app(name="pooltest", settings=settings, routers=[router])
    async with running(app) as client:
        held = asyncio.create_task(client.get("/v1/hold"))
        await holding.wait()
        refused = await client.get("/v1/quick")
        assert refused.status_code == 503
        assert refused.headers["content-type"] == PROBLEM_JSON
        assert refused.headers["retry-after"] == "2"
        release.set()
        assert (await held).status_code == 200
        assert (await client.get("/v1/quick")).status_code == 200


def slow_service(
    migrated_database, nats_server, issuer, release: asyncio.Event, **settings: object
) -> FastAPI:
    """A service (with these settings) whose ``GET /v1/slow`` answers once ``release`` is set."""
    router = APIRouter()

    @router.get("/v1/slow")
    async def slow() -> dict[str, str]:
        await release.wait()
        return {"status": "done"}

    return create_service_app(
        name="overloadtest",
        settings=service_settings(
            migrated_database("procedures"), nats_server.url, issuer, **settings
        ),
        routers=[router],
    )


async def test_a_service_refusing_for_overload_counts_each_refusal(
    migrated_database, nats_server, issuer
):
    release = asyncio.Event()
    app = slow_service(migrated_database, nats_server, issuer, release, max_requests_in_flight=1)
    async with running(app) as client:
        held = asyncio.create_task(client.get("/v1/slow"))
        while _in_flight(app) < 1:
            await asyncio.sleep(0.01)
        refused = [await client.get("/v1/slow") for _ in range(3)]
        assert [r.status_code for r in refused] == [503, 503, 503]
        assert refused[0].headers["retry-after"] == "1"
        metrics = (await client.get("/metrics")).text  # probes are served beyond the bound
        assert (
            'http_requests_total{method="GET",route="unmatched",service="overloadtest",'
            'status="503"} 3.0'
        ) in metrics
        release.set()
        assert (await held).status_code == 200


async def test_the_default_bound_is_the_connections_a_process_may_hold(
    migrated_database, nats_server, issuer
):
    release = asyncio.Event()
    app = slow_service(
        migrated_database, nats_server, issuer, release, db_pool_size=2, db_max_overflow=1
    )
    async with running(app) as client:
        held = [asyncio.create_task(client.get("/v1/slow")) for _ in range(3)]

        async def all_held() -> bool:
            return _in_flight(app) >= 3

        await eventually(all_held, "three requests in flight", every=0.01)
        refused = await client.get("/v1/slow")  # a fourth: pool (2) + overflow (1) are taken
        assert refused.status_code == 503 and refused.json()["type"].endswith("/overloaded")
        release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200, 200]
