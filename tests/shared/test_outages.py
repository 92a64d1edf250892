"""A dependency outage is told once: 503 with Retry-After on every request, one log line when
it starts and one when it ends (not one traceback per request), and a metric counting the
failed requests."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, FastAPI
from sqlalchemy import text
from structlog.testing import capture_logs

from socle.db import create_engine
from socle.problems import PROBLEM_JSON, Unavailable, install_problem_handlers
from socle.service import create_service_app
from socle_dev.localinfra import free_port
from socle_dev.testing import running
from tests.support.services import service_settings


class StoreDown(Unavailable):
    code, dependency = "store-unavailable", "object_store"


async def test_a_database_outage_is_logged_once_not_per_request():
    engine = create_engine(f"postgresql+asyncpg://socle:x@127.0.0.1:{free_port()}/socle")
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/v1/things")
    async def things() -> dict[str, int]:
        async with engine.connect() as conn:
            return {"n": (await conn.execute(text("SELECT 1"))).scalar_one()}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        with capture_logs() as logs:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                answers = [await client.get("/v1/things") for _ in range(8)]
    finally:
        await engine.dispose()
    assert {(r.status_code, r.headers["retry-after"]) for r in answers} == {(503, "2")}
    assert [e["event"] for e in logs] == ["database_unavailable"]
    assert not any("exc_info" in e or "exception" in e for e in logs)


async def test_an_outage_and_its_recovery_are_one_line_each_and_counted(
    migrated_database, nats_server, issuer
):
    state = {"down": True}
    router = APIRouter()

    @router.get("/v1/files")
    async def files() -> dict[str, str]:
        if state["down"]:
            raise StoreDown("The store cannot be reached.", headers={"Retry-After": "5"})
        return {"status": "ok"}

    settings = service_settings(
        migrated_database("procedures"),
        nats_server.url,
        issuer,
    )
    app = create_service_app(name="outagetest", settings=settings, routers=[router])
    async with running(app) as client:
        with capture_logs() as logs:
            for _ in range(6):
                refused = await client.get("/v1/files")
                assert refused.status_code == 503
                assert refused.headers["content-type"] == PROBLEM_JSON
                assert refused.headers["retry-after"] == "5"
            assert (await client.get("/healthz")).status_code == 200  # not a sign of recovery
            state["down"] = False
            for _ in range(3):
                assert (await client.get("/v1/files")).status_code == 200
        metrics = (await client.get("/metrics")).text
    told = [e for e in logs if e.get("event", "").startswith("object_store_")]
    assert [e["event"] for e in told] == ["object_store_unavailable", "object_store_recovered"]
    assert told[1]["failures"] == 6
    assert (
        'dependency_failures_total{dependency="object_store",service="outagetest"} 6.0' in metrics
    )


def test_a_long_outage_is_recalled_at_most_every_thirty_seconds():
    from socle.outages import Outages

    now = [0.0]
    outages = Outages(clock=lambda: now[0])
    with capture_logs() as logs:
        for moment in (0.0, 1.0, 10.0, 29.0, 31.0, 40.0):
            now[0] = moment
            outages.failed("database", "ConnectionError")
        outages.answered()
        outages.answered()
    assert [(e["event"], e.get("failures")) for e in logs] == [
        ("database_unavailable", None),
        ("database_still_unavailable", 4),
        ("database_recovered", 6),
    ]
