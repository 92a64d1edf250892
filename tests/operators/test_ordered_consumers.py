"""Two replicas of a service read one durable consumer: the 200 events of one aggregate take
effect in the order they were published (no inversion), each exactly once."""

from __future__ import annotations

import itertools
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import text

from socle.bus import Bus
from socle.db import create_engine
from socle.events import CloudEvent
from socle_dev.testing import eventually

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 200


async def test_two_replicas_keep_the_order_of_an_aggregates_events(
    migrated_database, nats_server, tenant
):
    database = migrated_database("payment")  # any service's schema: it has the inbox
    engine = create_engine(database)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "CREATE TABLE order_effects (id BIGSERIAL PRIMARY KEY, seq INTEGER NOT NULL, "
                "worker TEXT NOT NULL)"
            )
        )
    durable = f"ordered-{uuid.uuid4().hex[:8]}"
    subject = f"socle.{tenant}.payment.>"
    replicas = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.operators.ordered_consumer",
                nats_server.url,
                database,
                durable,
                subject,
                f"replica-{n}",
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in (1, 2)
    ]
    bus = Bus(nats_server.url)
    try:
        for replica in replicas:
            assert replica.stdout is not None and replica.stdout.readline().strip() == "ready"
        await bus.connect()
        payment = uuid.uuid4().hex
        for seq in range(EVENTS):
            await bus.publish_event(
                CloudEvent.new(
                    service="payment",
                    type="payment.updated",
                    tenant=tenant,
                    subject=payment,
                    data={"payment_id": payment, "seq": seq},
                )
            )

        async def all_applied() -> bool:
            async with engine.connect() as connection:
                count = await connection.execute(text("SELECT count(*) FROM order_effects"))
                return int(count.scalar_one()) >= EVENTS

        await eventually(all_applied, f"the {EVENTS} effects", within=120)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(text("SELECT seq, worker FROM order_effects ORDER BY id"))
            ).all()
    finally:
        await bus.close()
        for replica in replicas:
            assert replica.stdin is not None
            replica.stdin.close()
        for replica in replicas:
            replica.wait(timeout=30)
        await engine.dispose()
    applied = [row.seq for row in rows]
    inversions = sum(1 for a, b in itertools.pairwise(applied) if b < a)
    assert inversions == 0, f"{inversions} inversions"
    assert applied == list(range(EVENTS))  # each once, in order
    # both replicas took part (JetStream hands each event to whichever asks first)
    assert {row.worker for row in rows} == {"replica-1", "replica-2"}
