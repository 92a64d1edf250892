"""The ``socle`` command against real servers: PostgreSQL (five databases), NATS, S3, SMTP
and an issuer's JWKS, as an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import nats
import pytest
from sqlalchemy import select

from socle.bus import Bus, ConsumerSpec
from socle.db import create_engine, create_sessionmaker, utcnow
from socle.events import CloudEvent
from socle_dev.testing import eventually
from socle_notify.models import Subscription, WebhookDelivery

SERVICES = ("identity", "payment", "storage", "notify", "procedures")


def socle(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "socle.opcli", *args],
        env=env, input=stdin, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def platform_env(
    databases: dict[str, str], nats_server: Any, issuer: Any, s3: Any, smtp: Any
) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SOCLE_NATS_URL": nats_server.url,
        "SOCLE_ISSUER": issuer.issuer,
        "SOCLE_JWKS_URL": issuer.jwks_url,
        "SOCLE_S3_ENDPOINT": s3.endpoint,
        "SOCLE_S3_ACCESS_KEY": s3.access_key,
        "SOCLE_S3_SECRET_KEY": s3.secret_key,
        "SOCLE_SMTP_HOST": "127.0.0.1",
        "SOCLE_SMTP_PORT": str(smtp.port),
    }
    for service, url in databases.items():
        env[f"SOCLE_{service.upper()}__DATABASE_URL"] = url
    return env


@pytest.mark.timeout(600)  # some thirty processes of five services, on a shared machine
async def test_migrate_doctor_and_outbox_status_for_every_service(
    new_database, nats_server, issuer, s3_server, smtp_sink
):
    databases = {service: new_database(service) for service in SERVICES}
    env = platform_env(databases, nats_server, issuer, s3_server, smtp_sink)
    bus = Bus(nats_server.url)
    await bus.connect()  # the streams exist once any service has started
    await bus.close()

    behind = socle(env, "migrate", "--check")
    assert behind.returncode == 1, behind.stderr
    assert behind.stdout.count("schema behind") == 5, behind.stdout

    migrated = socle(env, "migrate")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr[-2000:]
    for service in SERVICES:
        assert f"socle-{service}: migrated from an empty database to" in migrated.stdout

    healthy = socle(env, "--json", "doctor")
    report = json.loads(healthy.stdout)
    assert healthy.returncode == 0, json.dumps(report, indent=1)
    checks = {r["service"]: {c["name"] for c in r["checks"]} for r in report["services"]}
    assert {"database", "schema", "nats", "jwks"} <= checks["payment"]
    assert "s3" in checks["storage"] and "smtp" in checks["notify"]

    # One database down: that service fails, by name, with a non-zero exit and no traceback.
    broken = env | {"SOCLE_PAYMENT__DATABASE_URL": databases["payment"] + "_missing"}
    failing = socle(broken, "--service", "identity", "--service", "payment", "doctor")
    assert failing.returncode == 1
    assert "payment: FAILING" in failing.stdout and "FAIL database: unreachable" in failing.stdout
    assert "identity: ok" in failing.stdout and "ok   jwks" in failing.stdout
    assert "Traceback" not in failing.stdout + failing.stderr

    status = socle(env, "--json", "outbox", "status")
    assert status.returncode == 0, status.stderr[-2000:]
    assert {s["service"]: s["pending"] for s in json.loads(status.stdout)} == dict.fromkeys(
        SERVICES, 0
    )


@pytest.mark.timeout(600)
async def test_tenants_webhooks_and_dead_letters(
    migrated_database, nats_server, issuer, s3_server, smtp_sink
):
    databases = {service: migrated_database(service) for service in SERVICES}
    env = platform_env(databases, nats_server, issuer, s3_server, smtp_sink)
    slug = f"t{uuid.uuid4().hex[:10]}"

    created = socle(env, "tenants", "create", slug, "--name", "Commune de Vevey")
    assert created.returncode == 0, created.stderr[-2000:]
    listed = socle(env, "--json", "tenants", "list")
    assert {"slug": slug, "name": "Commune de Vevey"}.items() <= next(
        t for t in json.loads(listed.stdout) if t["slug"] == slug
    ).items()
    secret, webhook = "sk_live_" + uuid.uuid4().hex, "whsec_" + uuid.uuid4().hex
    configured = socle(
        env, "tenants", "configure", slug,
        "--creditor-iban", "CH44 3199 9123 0008 8901 2", "--creditor-name", "Commune de Vevey",
        "--creditor-street", "Rue du Simplon", "--creditor-house-number", "16",
        "--creditor-postal-code", "1800", "--creditor-city", "Vevey",
        "--stripe-keys-stdin", "--from-name", "Commune de Vevey",
        "--from-address", "guichet@vevey.ch", "--reply-to", "greffe@vevey.ch",
        stdin=f"{secret}\n{webhook}\n",
    )  # fmt: skip
    assert configured.returncode == 0, configured.stderr[-2000:]
    assert "creditor (tenant): Commune de Vevey, CH4431999123000889012" in configured.stdout
    assert f"secret key …{secret[-4:]}" in configured.stdout
    assert "mail sender (tenant): Commune de Vevey <guichet@vevey.ch>" in configured.stdout
    shown = socle(env, "--json", "tenants", "show", slug)
    assert shown.returncode == 0
    assert json.loads(shown.stdout)["payment"]["stripe"]["source"] == "tenant"
    for out in (configured.stdout, shown.stdout):
        assert secret not in out and webhook not in out
    unknown = socle(env, "tenants", "show", "nowhere")
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr.splitlines()[-1]

    # A webhook delivery notify gave up on: listed, then delivered again.
    engine = create_engine(databases["notify"])
    sessions = create_sessionmaker(engine)
    delivery_id = uuid.uuid4().hex
    async with sessions() as session, session.begin():
        subscription = Subscription(
            id=uuid.uuid4().hex, tenant=slug, event_types=["payment.*"],
            callback_url="https://erp.vevey.ch/hooks", secret="s" * 32, created_at=utcnow(),
        )  # fmt: skip
        session.add(subscription)
        await session.flush()
        session.add(
            WebhookDelivery(
                id=delivery_id, tenant=slug, subscription_id=subscription.id,
                event_id=uuid.uuid4().hex, event_type="payment.succeeded", payload={},
                status="dead", attempts=8, next_attempt_at=utcnow(), last_error="http-503",
                created_at=utcnow(),
            )
        )  # fmt: skip
    failed = socle(env, "webhooks", "list", "--tenant", slug)
    assert delivery_id in failed.stdout and "http-503" in failed.stdout
    retried = socle(env, "webhooks", "retry", delivery_id, "--tenant", slug)
    assert retried.returncode == 0, retried.stderr[-2000:]
    assert f"{delivery_id}: pending" in retried.stdout
    async with sessions() as session:
        status = await session.scalar(
            select(WebhookDelivery.status).where(WebhookDelivery.id == delivery_id)
        )
    await engine.dispose()
    assert status == "pending"

    # An event a consumer gave up on: listed, then published again where it came from.
    bus = Bus(nats_server.url)
    await bus.connect()

    async def refuse(event: CloudEvent) -> None:
        raise RuntimeError("cannot handle this")

    durable = f"failing-{uuid.uuid4().hex[:8]}"
    bus.start_consumer(
        ConsumerSpec(durable=durable, subjects=[f"socle.{slug}.>"], handler=refuse, max_deliver=1)
    )
    event = CloudEvent.new(service="payment", type="payment.succeeded", tenant=slug, data={})
    await bus.publish_event(event)
    seen: list[dict[str, Any]] = []

    async def dead_lettered() -> bool:
        listed = socle(env, "--json", "dead-letters", "list")
        assert listed.returncode == 0, listed.stderr[-3000:]
        seen[:] = [d for d in json.loads(listed.stdout) if d["consumer"] == durable]
        return bool(seen)

    await eventually(dead_lettered, "the event to be dead-lettered", within=60)
    await bus.close()
    [letter] = seen
    assert letter["event_id"] == event.id and "cannot handle this" in letter["error"]
    assert letter["subject"] == f"socle.{slug}.payment.succeeded"
    retry = socle(env, "dead-letters", "retry", str(letter["id"]))
    assert retry.returncode == 0 and "retried" in retry.stdout, retry.stderr[-2000:]
    after = json.loads(socle(env, "--json", "dead-letters", "list").stdout)
    assert letter["id"] not in [d["id"] for d in after]
    nc = await nats.connect(nats_server.url)
    sub = await nc.jetstream().pull_subscribe(f"socle.{slug}.payment.succeeded")
    copies = [m for m in await sub.fetch(10, timeout=5) if event.id.encode() in m.data]
    await nc.close()
    assert len(copies) == 2  # the original and the replay
