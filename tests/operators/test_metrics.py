"""/metrics shows what operators watch (outbox backlog, bus, consumer lag, dead letters, JWKS
fetch failures, database pool, process), and the alert rules and the dashboard only use
metrics that services really expose."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from fastapi import APIRouter, Depends

from socle.auth import Principal, require_scope
from socle.bus import ConsumerSpec
from socle.config import ServiceSettings
from socle.events import CloudEvent
from socle.service import create_service_app
from socle_dev.testing import eventually, running
from socle_payment.app import create_app as create_payment_app
from socle_payment.settings import PaymentSettings

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "deploy" / "helm" / "socle" / "files"
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def samples(exposition: str) -> list[tuple[str, str, float]]:
    found = []
    for line in exposition.splitlines():
        match = SAMPLE.match(line)
        if match:
            found.append((match[1], match[2] or "", float(match[3])))
    return found


def value(exposition: str, name: str, **labels: str) -> float | None:
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    for sample, label_text, number in samples(exposition):
        if sample == name and all(w in label_text for w in wanted):
            return number
    return None


async def test_metrics_show_the_outbox_backlog_while_the_bus_is_down(
    migrated_database, issuer, tenant
):
    app = create_payment_app(
        PaymentSettings(
            database_url=migrated_database("payment"),
            nats_url="nats://127.0.0.1:1",
            issuer=issuer.issuer,
            jwks_url=issuer.jwks_url,
            payment_expiry_sweep_seconds=0,
        )
    )
    token = issuer.token(audience="socle-payment", tenant=tenant, scopes=["payments:write"])
    async with running(app) as client:
        created = await client.post(
            "/v1/payments",
            json={
                "amount": 4200,
                "currency": "CHF",
                "reference": "metrics",
                "description": "Parking permit",
                "return_url": "https://commune.example/back",
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text
        text = (await client.get("/metrics")).text
    assert value(text, "socle_bus_connected", service="payment") == 0
    assert (value(text, "socle_outbox_pending_events", service="payment") or 0) >= 1
    backlog = value(text, "background_backlog_items", service="payment", loop="outbox_relay")
    assert (backlog or 0) >= 1
    # the retention loop reports what is past its retention (nothing yet, the rows are new)
    assert value(text, "background_backlog_items", service="payment", loop="retention") == 0
    assert (value(text, "socle_outbox_oldest_pending_age_seconds", service="payment") or 0) > 0
    assert (value(text, "socle_db_pool_connections_max", service="payment") or 0) > 0
    assert value(text, "socle_db_pool_connections_in_use", service="payment") is not None
    assert (value(text, "process_resident_memory_bytes") or 0) > 0
    assert value(text, "http_requests_total", route="/v1/payments", status="201") == 1


def metric_names_used() -> set[str]:
    exprs = [
        rule["expr"]
        for group in yaml.safe_load((FILES / "alerts.yaml").read_text())["groups"]
        for rule in group["rules"]
    ]
    exprs += [
        target["expr"]
        for panel in json.loads((FILES / "dashboard.json").read_text())["panels"]
        for target in panel["targets"]
    ]
    return {
        name
        for expr in exprs
        for name in re.findall(r"([a-z_:][a-z0-9_:]*)\{", expr)
        if name != "up"  # Prometheus's own
    }


async def test_consumer_lag_dead_letters_and_jwks_failures_are_counted(
    migrated_database, nats_server, issuer, tenant
):
    durable = f"metrics-{tenant}"
    router = APIRouter()

    @router.get("/v1/things")
    async def things(
        principal: Principal = Depends(require_scope("things:read")),
    ) -> dict[str, str]:
        return {"tenant": principal.tenant}

    async def always_fails(event: CloudEvent) -> None:
        raise RuntimeError("cannot handle")

    app = create_service_app(
        name="metricstest",
        settings=ServiceSettings(
            database_url=migrated_database("procedures"),
            nats_url=nats_server.url,
            issuer=issuer.issuer,
            jwks_url="http://127.0.0.1:1/jwks",  # identity unreachable
        ),
        routers=[router],
        consumers=lambda rt: [
            ConsumerSpec(
                durable=durable,
                subjects=[f"socle.{tenant}.>"],
                handler=always_fails,
                max_deliver=2,
                backoff=(0.05,),
            )
        ],
    )
    async with running(app) as client:
        event = CloudEvent.new(service="thing", type="thing.created", tenant=tenant, data={})
        await app.state.runtime.bus.publish_event(event)
        token = issuer.token(audience="socle-metricstest", tenant=tenant, scopes=["things:read"])
        refused = await client.get("/v1/things", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
        scraped: list[str] = []

        async def dead_lettered() -> bool:
            scraped[:] = [(await client.get("/metrics")).text]
            return value(scraped[0], "socle_dead_letters_total", consumer=durable) == 1

        await eventually(dead_lettered, "the failing event to be dead-lettered")
    text = scraped[0]
    assert (value(text, "socle_event_redeliveries_total", consumer=durable) or 0) >= 1
    assert value(text, "socle_consumer_pending_events", consumer=durable) == 0
    assert (value(text, "socle_jwks_fetch_failures_total") or 0) >= 1
    assert value(text, "socle_bus_connected", service="metricstest") == 1
    exposed = {name for name, _, _ in samples(text)}
    missing = metric_names_used() - exposed
    assert not missing, f"alerts or dashboard use metrics no service exposes: {missing}"
