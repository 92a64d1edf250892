"""One trace across the platform, as operators see it in their tracing backend: a commune's
system gets a token from identity, creates a payment, the payment's event crosses the bus
(through the outbox) and notify mails the payer; every one of those spans reaches the OTLP
collector under the one trace id the caller started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from socle_dev.localinfra import NatsServer, free_port
from socle_dev.testing import eventually
from tests.support.tracing import Collector

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def own_collector() -> Iterator[Collector]:
    found = Collector()
    with found.server:
        yield found


@pytest.fixture
def own_bus(tmp_path: Path) -> Iterator[NatsServer]:
    """A bus of this test's own: a new durable reads only this test's events."""
    server = NatsServer.create(tmp_path / "nats", free_port())
    server.start()
    yield server
    server.stop()


def run_cli(service: str, env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", f"socle_{service}", *args],
        env=env, capture_output=True, text=True, check=False, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


async def wait_ready(url: str) -> None:
    async with httpx.AsyncClient(timeout=5) as client:

        async def ready() -> bool:
            try:
                return (await client.get(f"{url}/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(ready, f"{url} to be ready", within=90)


async def test_token_payment_bus_and_mail_share_one_trace(
    own_collector, own_bus, migrated_database, smtp_sink, tenant
):
    ports = {name: free_port() for name in ("identity", "payment", "notify")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    common = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SOCLE_NATS_URL": own_bus.url,
        "SOCLE_ISSUER": urls["identity"],
        "SOCLE_OUTBOX_POLL_SECONDS": "0.2",
        "OTEL_EXPORTER_OTLP_ENDPOINT": own_collector.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    env = {
        "identity": common
        | {
            "SOCLE_DATABASE_URL": migrated_database("identity"),
            "SOCLE_ARGON2_TIME_COST": "1",
            "SOCLE_ARGON2_MEMORY_KIB": "8192",
            "OTEL_SERVICE_NAME": "identity",
        },
        "payment": common
        | {"SOCLE_DATABASE_URL": migrated_database("payment"), "OTEL_SERVICE_NAME": "payment"},
        "notify": common
        | {
            "SOCLE_DATABASE_URL": migrated_database("notify"),
            "SOCLE_SMTP_HOST": "127.0.0.1",
            "SOCLE_SMTP_PORT": str(smtp_sink.port),
            "SOCLE_MAIL_FROM": "Commune <noreply@commune.ch>",
            "SOCLE_WORKER_POLL_SECONDS": "0.2",
            "OTEL_SERVICE_NAME": "notify",
        },
    }
    run_cli("identity", env["identity"], "create-tenant", tenant, "--name", "Commune")
    client = run_cli(
        "identity", env["identity"], "create-client", "--tenant", tenant, "--name", "Back office",
        "--grant", "client_credentials", "--scope", "payments:write",
        "--scope", "notifications:admin", "--scope", "notifications:send", "--role", "admin",
    )  # fmt: skip
    with ExitStack() as stack:
        for name in ("identity", "payment", "notify"):
            process = subprocess.Popen(
                [sys.executable, "-m", f"socle_{name}", "serve", "--port", str(ports[name])],
                env=env[name], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            stack.callback(process.wait, 60)
            stack.callback(process.terminate)  # stops gracefully: spans flushed
        for url in urls.values():
            await wait_ready(url)

        trace_id = uuid.uuid4().hex
        traceparent = {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}
        async with httpx.AsyncClient(timeout=30) as http:
            # Set-up in traces of their own: a template and a rule mailing the payer.
            setup = await http.post(
                f"{urls['identity']}/token",
                data={"grant_type": "client_credentials", "scope": "notifications:admin"},
                auth=(client["client_id"], client["client_secret"]),
            )
            admin = {"Authorization": f"Bearer {setup.json()['access_token']}"}
            template = await http.post(
                f"{urls['notify']}/v1/templates",
                json={
                    "name": "Payment opened",
                    "channel": "email",
                    "default_language": "fr",
                    "contents": {"fr": {"subject": "Paiement", "body": "Paiement ((reference))."}},
                },
                headers=admin,
            )
            assert template.status_code == 201, template.text
            rule = await http.post(
                f"{urls['notify']}/v1/rules",
                json={
                    "event_type": "payment.created",
                    "template_id": template.json()["id"],
                    "recipient_field": "data.payer_email",
                },
                headers=admin,
            )
            assert rule.status_code == 201, rule.text

            # The traced journey.
            token = await http.post(
                f"{urls['identity']}/token",
                data={"grant_type": "client_credentials", "scope": "payments:write"},
                auth=(client["client_id"], client["client_secret"]),
                headers=traceparent,
            )
            assert token.status_code == 200, token.text
            payer = f"anna.{tenant}@example.ch"
            created = await http.post(
                f"{urls['payment']}/v1/payments",
                json={
                    "amount": 4200,
                    "currency": "CHF",
                    "reference": "DOG-2026",
                    "description": "Taxe des chiens",
                    "return_url": "https://commune.example.ch/back",
                    "provider": "qrbill",
                    "payer_email": payer,
                },
                headers={"Authorization": f"Bearer {token.json()['access_token']}", **traceparent},
            )
            assert created.status_code == 201, created.text

        async def mailed() -> bool:
            return bool(smtp_sink.to(payer))

        await eventually(mailed, "the payer's mail", within=60)

        def in_trace() -> list[tuple[str, Span]]:
            return [
                (resource.get("service.name", ""), span)
                for resource, span in list(own_collector.spans)
                if span.trace_id.hex() == trace_id
            ]

        async def mail_span_exported() -> bool:
            return any(s.name == "send email" for _, s in in_trace())

        await eventually(mail_span_exported, "the mail's span at the collector", within=30)

    seen = {(service, span.name, span.kind) for service, span in in_trace()}
    subject = f"socle.{tenant}.payment.created"
    expected = {
        ("identity", "POST /token", Span.SPAN_KIND_SERVER),
        ("payment", "POST /v1/payments", Span.SPAN_KIND_SERVER),
        ("payment", f"publish {subject}", Span.SPAN_KIND_PRODUCER),
        ("notify", f"consume {subject}", Span.SPAN_KIND_CONSUMER),
        ("notify", "send email", Span.SPAN_KIND_CLIENT),
    }
    assert expected <= seen, sorted(seen)
