"""Spans leave the process over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set: a fake
collector receives, from a payment service run as operators run it, the spans of one request
and of the event it published, in one trace, named after ``OTEL_SERVICE_NAME`` and carrying
``OTEL_RESOURCE_ATTRIBUTES``, flushed when the service stops."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import nats
import pytest
from opentelemetry import trace
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from socle_dev.localinfra import free_port
from socle_dev.testing import eventually
from tests.support.tracing import Collector


@pytest.fixture
def collector() -> Iterator[Collector]:
    found = Collector()
    with found.server:
        yield found


async def test_the_spans_of_a_request_and_its_event_reach_the_otlp_collector(
    collector, migrated_database, nats_server, issuer, tenant
):
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SOCLE_DATABASE_URL": migrated_database("payment"),
        "SOCLE_NATS_URL": nats_server.url,
        "SOCLE_ISSUER": issuer.issuer,
        "SOCLE_JWKS_URL": issuer.jwks_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
        "OTEL_SERVICE_NAME": "payment-under-test",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test,service.namespace=socle",
        # Nothing is sent before shutdown: what arrives was flushed when the service stopped.
        "OTEL_BSP_SCHEDULE_DELAY": "600000",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "socle_payment", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, "the payment service to be ready", within=60)
            token = issuer.token(audience="socle-payment", tenant=tenant, scopes=["payments:write"])
            created = await client.post(
                "/v1/payments",
                json={
                    "amount": 1200,
                    "currency": "CHF",
                    "reference": "trace",
                    "description": "Dog tax",
                    "return_url": "https://commune.example/back",
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            assert created.status_code == 201, created.text
        nc = await nats.connect(nats_server.url)
        sub = await nc.jetstream().pull_subscribe(f"socle.{tenant}.payment.created")
        got: list[Any] = []

        async def published() -> bool:
            with contextlib.suppress(TimeoutError, nats.errors.Error):
                got.extend(await sub.fetch(1, timeout=0.5))
            return bool(got)

        await eventually(published, "the payment.created event to be published")
        await nc.close()
        assert collector.spans == []  # still buffered in the service
    finally:
        server.terminate()
        _, err = server.communicate(timeout=60)
    # uvicorn stops gracefully, then ends by the signal it was sent.
    assert server.returncode in (0, -signal.SIGTERM), err[-2000:]
    resources = {tuple(sorted(r.items())) for r, _ in collector.spans}
    assert resources, "no span reached the collector"
    for resource in resources:
        attributes = dict(resource)
        assert attributes["service.name"] == "payment-under-test"
        assert attributes["deployment.environment"] == "test"
    (request,) = [
        s for _, s in collector.spans
        if s.kind == Span.SPAN_KIND_SERVER and s.name == "POST /v1/payments"
    ]  # fmt: skip
    same_trace = [s for _, s in collector.spans if s.trace_id == request.trace_id]
    kinds = {s.kind for s in same_trace}
    assert Span.SPAN_KIND_CLIENT in kinds  # SQL statements of the request
    publishes = [s.name for s in same_trace if s.kind == Span.SPAN_KIND_PRODUCER]
    assert f"publish socle.{tenant}.payment.created" in publishes


async def test_without_an_exporter_the_callers_trace_reaches_the_event_and_the_logs(
    migrated_database, nats_server, issuer, tenant
):
    """No collector configured: no span is recorded, but a request's ``traceparent`` still
    names the trace of the event it publishes and of its log lines."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SOCLE_DATABASE_URL": migrated_database("payment"),
        "SOCLE_NATS_URL": nats_server.url,
        "SOCLE_ISSUER": issuer.issuer,
        "SOCLE_JWKS_URL": issuer.jwks_url,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "socle_payment", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, "the payment service to be ready", within=60)
            token = issuer.token(audience="socle-payment", tenant=tenant, scopes=["payments:write"])
            # The caller's trace is current here too: were this process's httpx instrumented
            # (another test may have configured tracing), its traceparent stays in that trace.
            caller = trace.NonRecordingSpan(
                trace.SpanContext(int(trace_id, 16), 0x00F067AA0BA902B7, True, trace.TraceFlags(1))
            )
            with trace.use_span(caller):
                created = await client.post(
                    "/v1/payments",
                    json={
                        "amount": 1200,
                        "currency": "CHF",
                        "reference": "trace",
                        "description": "Dog tax",
                        "return_url": "https://commune.example/back",
                    },
                    headers={
                        "Authorization": f"Bearer {token}",
                        "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
                    },
                )
            assert created.status_code == 201, created.text
            payment_id = created.json()["id"]
            # A request refused by the domain logs a line of its own, in the caller's trace.
            with trace.use_span(caller):
                refused = await client.post(
                    "/v1/payments",
                    json={"amount": -1},
                    headers={
                        "Authorization": f"Bearer {token}",
                        "traceparent": f"00-{trace_id}-00f067aa0ba902b8-01",
                    },
                )
            assert refused.status_code == 422
        nc = await nats.connect(nats_server.url)
        sub = await nc.jetstream().pull_subscribe(f"socle.{tenant}.payment.created")
        got: list[Any] = []

        async def published() -> bool:  # this payment's event (the tenant may have others)
            with contextlib.suppress(TimeoutError, nats.errors.Error):
                got.extend(await sub.fetch(10, timeout=0.5))
            return any(payment_id.encode() in msg.data for msg in got)

        await eventually(published, "the payment.created event to be published")
        await nc.close()
    finally:
        server.terminate()
        _, err = server.communicate(timeout=60)
    (event,) = [msg for msg in got if payment_id.encode() in msg.data]
    assert (event.headers or {}).get("traceparent", "").split("-")[1] == trace_id
    assert f'"trace_id": "{trace_id}"' in err, err[-2000:]
