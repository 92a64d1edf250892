"""One replica of a small service consuming a durable (``python -m
tests.operators.ordered_consumer NATS_URL DATABASE_URL DURABLE SUBJECT NAME``): each event's
effect is a row in ``order_effects``, written with the inbox in one transaction, as every
Socle consumer does. Runs until stdin closes."""

from __future__ import annotations

import asyncio
import random
import sys

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from socle.bus import Bus, ConsumerSpec
from socle.db import create_engine, create_sessionmaker
from socle.events import CloudEvent
from socle.inbox import exactly_once


async def main(nats_url: str, database_url: str, durable: str, subject: str, name: str) -> None:
    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)

    async def effect(session: AsyncSession, event: CloudEvent) -> None:
        await asyncio.sleep(random.uniform(0, 0.005))  # work takes a varying while
        await session.execute(
            text("INSERT INTO order_effects (seq, worker) VALUES (:seq, :worker)"),
            {"seq": int(event.data["seq"]), "worker": name},
        )

    bus = Bus(nats_url, name=name)
    await bus.connect()
    bus.start_consumer(
        ConsumerSpec(
            durable=durable, subjects=[subject], handler=exactly_once(sessions, durable, effect)
        )
    )
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await bus.close()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
