"""Dead letters for the ``socle`` command: events a consumer gave up on live on the bus only
(the ``<stream>_DEADLETTER`` stream), so the command talks to NATS itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Mapping
from typing import Any, Protocol

import nats
from nats.js.errors import NotFoundError

from socle.bus import DEAD_LETTER_PREFIX
from socle.opcli_services import OperatorError


class Steps(Protocol):
    """Where long work reports how far it is (a progress bar, or nothing)."""

    def total(self, count: int) -> None: ...

    def step(self, what: str = "") -> None: ...


class NoSteps:
    def total(self, count: int) -> None:
        pass

    def step(self, what: str = "") -> None:
        pass


async def _quiet(exc: Exception) -> None:
    """nats-py prints a traceback for every failed attempt; the caller reports one line."""


async def _letters(
    url: str,
    stream: str,
    wanted: Collection[int] | None,
    replay: bool,
    steps: Steps,
) -> list[dict[str, Any]]:
    async with asyncio.timeout(10):  # nats-py may retry a first connection forever
        nc = await nats.connect(
            url, connect_timeout=5, allow_reconnect=False, max_reconnect_attempts=0, error_cb=_quiet
        )
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            return []
        if not info.state.messages:
            return []
        first, last = max(info.state.first_seq, 1), info.state.last_seq
        steps.total(len(wanted) if wanted is not None else last - first + 1)
        letters = []
        for seq in range(first, last + 1):
            if wanted is not None and seq not in wanted:
                continue
            try:
                msg = await js.get_msg(stream, seq)
            except NotFoundError:
                continue  # replayed already (deleted)
            finally:
                steps.step(str(seq))
            headers = dict(msg.headers or {})
            consumer = (msg.subject or "").removeprefix(f"{DEAD_LETTER_PREFIX}.").split(".")[0]
            letter: dict[str, Any] = {
                "id": seq,
                "consumer": consumer,
                "subject": headers.get("Socle-Original-Subject", ""),
                "error": headers.get("Socle-Error", ""),
                "event_id": event_id(msg.data),
            }
            if replay:
                await _replay(js, stream, seq, msg.data or b"", headers)
                letter["replayed"] = True
            letters.append(letter)
        return letters
    finally:
        await nc.close()


def event_id(data: bytes | None) -> Any:
    """The id of the event a dead letter holds; None when it holds no event (a malformed
    message is dead-lettered too, and must not stop the listing)."""
    try:
        event = json.loads(data or b"{}")
    except ValueError:
        return None
    return event.get("id") if isinstance(event, dict) else None


async def _replay(js: Any, stream: str, seq: int, data: bytes, headers: dict[str, str]) -> None:
    """Publish the event again on its subject (consumers that took it already skip it, by
    their inbox), then remove the dead letter."""
    subject = headers.pop("Socle-Original-Subject")
    headers.pop("Socle-Error", None)
    headers["Nats-Msg-Id"] = f"{headers.get('Nats-Msg-Id', '')}:replay:{seq}"
    await js.publish(subject, data, headers=headers)
    await js.delete_msg(stream, seq)


def dead_letters(
    env: Mapping[str, str],
    *,
    wanted: Collection[int] | None = None,
    replay: bool = False,
    steps: Steps | None = None,
) -> list[dict[str, Any]]:
    """The dead letters (those ``wanted``, or all), replayed when ``replay``, on the bus
    ``env`` names (``SOCLE_NATS_URL``, ``SOCLE_STREAM_NAME``)."""
    url = env.get("SOCLE_NATS_URL", "nats://127.0.0.1:4222")
    stream = env.get("SOCLE_STREAM_NAME", "SOCLE") + "_DEADLETTER"
    try:
        return asyncio.run(_letters(url, stream, wanted, replay, steps or NoSteps()))
    except (OSError, nats.errors.Error, TimeoutError) as exc:
        raise OperatorError(f"NATS unreachable ({exc.__class__.__name__})") from None
