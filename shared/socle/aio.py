"""Small asyncio helpers."""

from __future__ import annotations

import asyncio
from typing import Any


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` until it is done.

    One ``cancel()`` is not always enough on Python 3.11: ``asyncio.wait_for`` (used inside
    nats-py, for example) may swallow a cancellation that arrives as its awaitable completes.
    """
    while task is not None and not task.done():
        task.cancel()
        # asyncio.wait never raises the task's outcome; a cancel of the caller goes through.
        await asyncio.wait({task}, timeout=1.0)
