"""Stopping background tasks (relay, consumers, workers) always ends."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from socle.aio import stop_task
from socle_dev.testing import eventually


async def test_a_task_that_swallows_a_cancel_is_still_stopped():
    async def swallows_once() -> None:
        # What asyncio.wait_for can do when its awaitable completes as it is cancelled:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        await asyncio.sleep(3600)

    task = asyncio.create_task(swallows_once())
    await asyncio.sleep(0)
    async with asyncio.timeout(10):
        await stop_task(task)
    assert task.cancelled()


async def test_the_caller_can_still_be_cancelled():
    release = asyncio.Event()

    cancels: list[int] = []

    async def ignores_cancels_until_released() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                cancels.append(1)

    stubborn = asyncio.create_task(ignores_cancels_until_released())
    stopper = asyncio.create_task(stop_task(stubborn))

    async def stopping() -> bool:  # the stopper is at work: it cancelled the task already
        return bool(cancels)

    await eventually(stopping, "the stopper to cancel the task")
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    release.set()
    await stubborn  # nothing left running
