"""An event recorder for tests: every CloudEvent published on the bus under a subject, as
another service would see them, and waits for N events of a type."""

from __future__ import annotations

import json
from typing import Any

import nats

from socle import account_mails
from socle.bus import Bus
from socle.events import CloudEvent
from socle_dev.testing import eventually


class EventRecorder:
    """Records every event published on ``subject`` (``socle.<tenant>.>`` by default) while
    it is open (``async with EventRecorder(url, tenant=...) as events``)."""

    def __init__(self, url: str, *, tenant: str | None = None, subject: str | None = None) -> None:
        if subject is None:
            if tenant is None:
                raise ValueError("give the tenant or the subject to record")
            subject = f"socle.{tenant}.>"
        self.url = url
        self.subject = subject
        self.events: list[dict[str, Any]] = []
        self.subjects: list[str] = []
        self._nc: Any = None

    async def __aenter__(self) -> EventRecorder:
        self._nc = await nats.connect(self.url)

        async def on_message(msg: Any) -> None:
            self.subjects.append(msg.subject)
            self.events.append(json.loads(msg.data))

        await self._nc.subscribe(self.subject, cb=on_message)
        await self._nc.flush()  # subscribed on the server before the test goes on
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._nc.drain()

    def subject_of(self, event: dict[str, Any]) -> str:
        """The NATS subject ``event`` (one of :attr:`events`) arrived on."""
        return next(s for e, s in zip(self.events, self.subjects, strict=True) if e is event)

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def of_type(self, event_type: str, **data: Any) -> list[dict[str, Any]]:
        """The events of ``event_type`` whose ``data`` holds the given items."""
        return [
            e
            for e in self.events
            if e["type"] == event_type and all(e["data"].get(k) == v for k, v in data.items())
        ]

    async def wait_for(
        self, event_type: str, count: int = 1, *, within: float = 15.0, **data: Any
    ) -> list[dict[str, Any]]:
        """The events of ``event_type`` (with the given ``data`` items) once there are at
        least ``count``; fails after ``within`` seconds (a safety net, not a measure)."""

        async def enough() -> list[dict[str, Any]]:
            found = self.of_type(event_type, **data)
            return found if len(found) >= count else []

        what = f"{count} {event_type} event(s) on {self.subject}"
        try:
            found: list[dict[str, Any]] = await eventually(enough, what, within=within)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; saw {self.types()}") from None
        return found

    async def secret_mail(self, event: dict[str, Any]) -> dict[str, str]:
        """What notify gets when it asks the producer of ``event`` for the mail's address
        (and link): the lookup of ``socle.account_mails``, over the same bus."""
        bus = Bus(url=self.url, name="test-notify")
        await bus.connect()
        try:
            return await account_mails.ask(bus, CloudEvent.model_validate(event))
        finally:
            await bus.close()

    account_mail = secret_mail

    async def first(self, event_type: str, *, within: float = 15.0, **data: Any) -> dict[str, Any]:
        """The first event of ``event_type`` whose ``data`` holds the given items."""
        return (await self.wait_for(event_type, within=within, **data))[0]


async def consumer_settled(js: Any, durable: str, stream: str = "SOCLE") -> bool:
    """Whether the durable consumer took and acknowledged every message of its stream so far
    (nothing pending, nothing waiting for an ack): "consumer acked N" without counting."""
    info = await js.consumer_info(stream, durable)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)
