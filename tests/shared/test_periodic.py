"""Background loops (expiry, purge, anonymisation): a backlog drains in one turn, a failing
pass is survived, ``wake()`` runs a turn at once, ``stop()`` ends the loop; and the clock
tests move instead of sleeping."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from socle import clock
from socle.periodic import Periodic
from socle_dev.testing import eventually


async def test_a_backlog_longer_than_a_batch_drains_in_one_turn():
    backlog = [10] * 7  # seven batches of ten, then nothing

    async def work() -> int:
        return backlog.pop() if backlog else 0

    assert await Periodic("drain", 0, work).run_once() == 70
    assert backlog == []


async def test_a_failing_pass_is_logged_and_the_loop_goes_on():
    calls: list[int] = []

    async def work() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database away")
        return 0

    loop = Periodic("flaky", 3600, work)
    loop.start()
    try:
        await eventually(lambda: _true(len(calls) >= 1), "the turn at start")
        loop.wake()  # the first turn failed; a wake runs the next one at once
        await eventually(lambda: _true(len(calls) >= 2), "a second turn after the failure")
        assert loop.running
    finally:
        await loop.stop()
    assert not loop.running


async def test_wake_runs_a_turn_before_the_interval_and_stop_ends_the_loop():
    turns = asyncio.Queue[int]()

    async def work() -> int:
        turns.put_nowait(1)
        return 0

    loop = Periodic("woken", 3600, work)
    loop.start()
    await asyncio.wait_for(turns.get(), 10)  # the turn at start
    loop.wake()
    await asyncio.wait_for(turns.get(), 10)  # long before the hour is up
    await loop.stop()
    assert not loop.running


async def test_a_loop_with_no_interval_is_never_started():
    async def work() -> int:
        raise AssertionError("never run")

    loop = Periodic("off", 0, work)
    loop.start()
    assert not loop.running


def test_the_clock_moves_forward_for_a_block_only():
    before = clock.now()
    with clock.advanced(hours=2):
        assert clock.now() - before >= timedelta(hours=2)
        with clock.advanced(timedelta(days=1)):
            assert clock.now() - before >= timedelta(days=1, hours=2)
    assert clock.now() - before < timedelta(hours=1)


async def _true(value: bool) -> bool:
    return value


async def test_a_database_outage_is_logged_once_when_it_starts_and_once_when_it_ends(capsys):
    """A loop whose database is down fails every turn: one line when the outage starts and
    one when it ends, not one per turn."""
    from sqlalchemy.exc import OperationalError

    from socle.telemetry import configure_logging

    configure_logging("test")
    turns: list[int] = []
    logged: list[str] = []

    async def work() -> int:
        turns.append(1)
        if len(turns) <= 4:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
        return 0

    def lines_with(event: str) -> int:
        logged.extend(capsys.readouterr().err.splitlines())
        return sum(f'"event": "{event}"' in line for line in logged)

    loop = Periodic("outage", 3600, work)
    loop.start()
    try:
        for n in range(1, 5):  # four failing turns, each woken once the one before has run
            await eventually(lambda n=n: _true(len(turns) >= n), "a failing turn")
            loop.wake()
        await eventually(lambda: _true(lines_with("database_recovered") == 1), "the recovery")
    finally:
        await loop.stop()
    assert len(turns) >= 5
    assert lines_with("database_unavailable") == 1
    assert lines_with("periodic_failed") == 0
