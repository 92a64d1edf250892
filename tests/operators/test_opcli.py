"""The ``socle`` command against real servers: PostgreSQL (five databases), NATS, S3, SMTP
and an issuer's JWKS, as an operator runs it (the Click app in this process, each service's
command with its own settings)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid

import nats
from sqlalchemy import select

from socle.bus import Bus, ConsumerSpec
from socle.db import create_engine, create_sessionmaker, utcnow
from socle.events import CloudEvent
from socle.opcli_bus import dead_letters
from socle_dev.testing import eventually
from socle_notify.models import Subscription, WebhookDelivery
from tests.support.opcli import SERVICES, new_slug, platform_env, socle


def test_the_console_script_runs():
    shown = subprocess.run(
        [sys.executable, "-m", "socle.opcli", "--help"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert shown.returncode == 0 and "tenants" in shown.stdout, shown.stderr


async def test_help_everywhere():
    for command in (
        [], ["doctor"], ["migrate"], ["outbox", "status"], ["tenants", "list"],
        ["tenants", "create"], ["tenants", "configure"], ["tenants", "offboard"],
        ["events", "dead-letters", "list"], ["events", "dead-letters", "replay"],
        ["webhooks", "failed"], ["webhooks", "redeliver"],
    ):  # fmt: skip
        shown = await socle({}, *command, "--help")
        assert shown.exit_code == 0 and "Usage: " in shown.stdout, command
        if command and command[-1] not in ("dead-letters",):
            assert "--json" in shown.stdout or command == [], command


async def test_migrate_doctor_and_outbox_status_for_every_service(
    new_database, nats_server, issuer, s3_server, smtp_sink
):
    databases = {service: new_database(service) for service in SERVICES}
    env = platform_env(databases, nats_server, issuer, s3_server, smtp_sink)
    bus = Bus(nats_server.url)
    await bus.connect()  # the streams exist once any service has started
    await bus.close()

    behind = await socle(env, "migrate", "--check")
    assert behind.exit_code == 1, behind.output
    assert behind.stdout.count("schema behind") == 5, behind.stdout

    migrated = await socle(env, "migrate")
    assert migrated.exit_code == 0, migrated.output
    for service in SERVICES:
        assert f"socle-{service}: migrated from an empty database to" in migrated.stdout
    again = await socle(env, "migrate", "--json")
    assert [r["ok"] for r in json.loads(again.stdout)] == [True] * 5
    assert all("nothing to do" in r["result"] for r in json.loads(again.stdout))

    healthy = await socle(env, "--json", "doctor")
    report = json.loads(healthy.stdout)
    assert healthy.exit_code == 0, json.dumps(report, indent=1)
    checks = {r["service"]: {c["name"] for c in r["checks"]} for r in report["services"]}
    assert {"database", "schema", "nats", "jwks"} <= checks["payment"]
    assert "s3" in checks["storage"] and "smtp" in checks["notify"]

    # One database down: that service fails, by name, with a non-zero exit and no traceback.
    broken = env | {"SOCLE_PAYMENT__DATABASE_URL": databases["payment"] + "_missing"}
    failing = await socle(broken, "--service", "identity", "--service", "payment", "doctor")
    assert failing.exit_code == 1
    assert "payment: FAILING" in failing.stdout and "FAIL database: unreachable" in failing.stdout
    assert "identity: ok" in failing.stdout and "ok   jwks" in failing.stdout
    assert "Traceback" not in failing.output
    unreachable = await socle(broken, "--service", "payment", "migrate")
    assert unreachable.exit_code == 1
    assert unreachable.stdout.strip().startswith("socle-payment: database unreachable")
    assert len(unreachable.stdout.strip().splitlines()) == 1
    assert "Traceback" not in unreachable.output

    status = await socle(env, "outbox", "status", "--json")
    assert status.exit_code == 0, status.output
    assert {s["service"]: s["pending"] for s in json.loads(status.stdout)} == dict.fromkeys(
        SERVICES, 0
    )


async def test_tenants_are_created_configured_and_shown_without_a_secret(platform):
    env, slug = platform, new_slug()
    created = await socle(env, "tenants", "create", slug, "--name", "Commune de Vevey")
    assert created.exit_code == 0, created.output
    listed = await socle(env, "--json", "tenants", "list")
    assert {"slug": slug, "name": "Commune de Vevey"}.items() <= next(
        t for t in json.loads(listed.stdout) if t["slug"] == slug
    ).items()
    secret, webhook = "sk_live_" + uuid.uuid4().hex, "whsec_" + uuid.uuid4().hex
    configured = await socle(
        env, "tenants", "configure", slug,
        "--creditor-iban", "CH44 3199 9123 0008 8901 2", "--creditor-name", "Commune de Vevey",
        "--creditor-street", "Rue du Simplon", "--creditor-house-number", "16",
        "--creditor-postal-code", "1800", "--creditor-city", "Vevey",
        "--stripe-keys-stdin", "--stripe-account-id", "acct_1VeveyConnect",
        "--from-name", "Commune de Vevey", "--from-address", "guichet@vevey.ch",
        "--reply-to", "greffe@vevey.ch",
        "--operations-email", "informatique@vevey.ch", "--operations-email", "greffe@vevey.ch",
        stdin=f"{secret}\n{webhook}\n",
    )  # fmt: skip
    assert configured.exit_code == 0, configured.output
    assert "creditor (tenant): Commune de Vevey, CH4431999123000889012" in configured.stdout
    assert f"secret key …{secret[-4:]}, Connect account acct_1VeveyConnect" in configured.stdout
    assert "mail sender (tenant): Commune de Vevey <guichet@vevey.ch>" in configured.stdout
    assert (
        "operations contacts (tenant): informatique@vevey.ch, greffe@vevey.ch" in configured.stdout
    )
    shown = await socle(env, "tenants", "show", slug, "--json")
    assert shown.exit_code == 0
    view = json.loads(shown.stdout)
    assert view["payment"]["stripe"]["source"] == "tenant"
    assert view["payment"]["stripe"]["account_id"] == "acct_1VeveyConnect"
    assert view["operations"]["emails"] == ["informatique@vevey.ch", "greffe@vevey.ch"]
    for out in (configured.stdout, shown.stdout):
        assert secret not in out and webhook not in out

    reset = await socle(
        env, "tenants", "configure", slug, "--reset-operations", "--no-stripe-account", "--json"
    )
    assert reset.exit_code == 0, reset.output
    assert json.loads(reset.stdout)["operations"]["source"] == "default"
    assert json.loads(reset.stdout)["payment"]["stripe"]["account_id"] is None
    bad = await socle(env, "tenants", "configure", slug, "--operations-email", "not an address")
    assert bad.exit_code == 1 and "not a valid e-mail address" in bad.output
    assert "Traceback" not in bad.output

    unknown = await socle(env, "tenants", "show", "nowhere")
    assert unknown.exit_code != 0 and "Traceback" not in unknown.output
    assert unknown.output.strip().splitlines()[-1].startswith("Error: identity show-tenant")


async def test_failed_webhooks_are_listed_and_redelivered(platform):
    env, slug = platform, new_slug()
    engine = create_engine(env["SOCLE_NOTIFY__DATABASE_URL"])
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
    failed = await socle(env, "webhooks", "failed", "--tenant", slug)
    assert delivery_id in failed.stdout and "http-503" in failed.stdout
    redelivered = await socle(env, "webhooks", "redeliver", delivery_id, "--tenant", slug)
    assert redelivered.exit_code == 0, redelivered.output
    assert f"{delivery_id}: pending" in redelivered.stdout
    async with sessions() as session:
        status = await session.scalar(
            select(WebhookDelivery.status).where(WebhookDelivery.id == delivery_id)
        )
    await engine.dispose()
    assert status == "pending"
    none_left = await socle(env, "webhooks", "failed", "--tenant", slug, "--json")
    assert json.loads(none_left.stdout) == []


async def test_dead_letters_are_listed_and_replayed(platform, nats_server):
    env, slug = platform, new_slug()
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

    async def dead_lettered() -> bool:
        letters = await asyncio.to_thread(dead_letters, env)
        return any(d["consumer"] == durable for d in letters)

    await eventually(dead_lettered, "the event to be dead-lettered", within=60)
    await bus.close()  # its log lines would land in the output the command's test reads
    listed = await socle(env, "--json", "events", "dead-letters", "list")
    assert listed.exit_code == 0, listed.output
    seen = [d for d in json.loads(listed.stdout) if d["consumer"] == durable]
    [letter] = seen
    assert letter["event_id"] == event.id and "cannot handle this" in letter["error"]
    assert letter["subject"] == f"socle.{slug}.payment.succeeded"
    replay = await socle(env, "events", "dead-letters", "replay", str(letter["id"]))
    assert replay.exit_code == 0 and "replayed" in replay.stdout, replay.output
    after = json.loads((await socle(env, "--json", "events", "dead-letters", "list")).stdout)
    assert letter["id"] not in [d["id"] for d in after]
    nc = await nats.connect(nats_server.url)
    sub = await nc.jetstream().pull_subscribe(f"socle.{slug}.payment.succeeded")
    copies = [m for m in await sub.fetch(10, timeout=5) if event.id.encode() in m.data]
    await nc.close()
    assert len(copies) == 2  # the original and the replay
    nothing = await socle(env, "events", "dead-letters", "replay")
    assert nothing.exit_code == 2 and "give dead-letter ids, or --all" in nothing.output


async def test_nats_unreachable_is_one_line(platform):
    down = platform | {"SOCLE_NATS_URL": "nats://127.0.0.1:9"}
    listed = await socle(down, "events", "dead-letters", "list")
    assert listed.exit_code == 1
    assert listed.output.strip().startswith("Error: NATS unreachable (")
    assert len(listed.output.strip().splitlines()) == 1
