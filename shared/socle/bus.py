"""NATS JetStream: the stream, de-duplicated publishing, durable consumers, a dead letter."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import nats
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, DiscardPolicy, StreamConfig
from nats.js.errors import NotFoundError
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from socle.aio import stop_task
from socle.events import CloudEvent
from socle.metrics import DEAD_LETTERS, REDELIVERIES
from socle.tracing import event_carrier, extract_context, inject_headers, tracer

log = structlog.get_logger("socle.bus")

Handler = Callable[[CloudEvent], Awaitable[None]]
Responder = Callable[[bytes], Awaitable[bytes]]

DUPLICATE_WINDOW_SECONDS = 600.0
DEAD_LETTER_PREFIX = "deadletter"
RESPONDER_FAILED = "Socle-Responder-Failed"
"""Header of the (empty) answer of a responder that failed: the asker need not wait."""
DAY = 24 * 3600


@dataclass(frozen=True)
class StreamLimits:
    """How long and how much a stream keeps, on how many servers, and for how long a
    ``Nats-Msg-Id`` is remembered. Applied when the stream is created and again whenever a
    process finds it configured otherwise (the settings are the truth)."""

    max_age_seconds: float = 7 * DAY
    """Events older than this are removed (0: kept forever)."""
    max_bytes: int = 1024**3
    """Beyond this size the oldest events are removed (-1: no limit)."""
    replicas: int = 1
    """Copies of the stream on as many NATS servers (3 in a production cluster)."""
    duplicate_window_seconds: float = DUPLICATE_WINDOW_SECONDS
    """A message id seen within this window is dropped as a duplicate."""
    dead_letter_max_age_seconds: float = 30 * DAY
    """How long dead letters are kept for an operator to look at."""


def _limits_of(config: StreamConfig) -> dict[str, object]:
    return {
        "max_age": config.max_age,
        "max_bytes": config.max_bytes,
        "num_replicas": config.num_replicas,
        "duplicate_window": config.duplicate_window,
    }


class BusUnavailable(RuntimeError):
    """The bus cannot be reached; the caller keeps its data and retries later."""


@dataclass
class ConsumerSpec:
    """A durable consumer: its name, the subjects it reads, and what it does with an event.

    ``ordered`` (the default) keeps the stream's order in the effects however many replicas
    of the service read the durable: JetStream hands out one event at a time
    (``max_ack_pending=1``) and the next only once the previous one is acknowledged (or dead
    lettered), so the events of an aggregate (published in order by the outbox) take effect
    in order, a retried event included (its successors wait for it). The price is one event
    in flight per durable across all replicas; a consumer whose effects commute may set
    ``ordered=False`` to have up to ``batch`` events handled at once in every replica (the
    next one fetched as soon as one is done, so a handler that waits, or an event retried
    later, holds back no other)."""

    durable: str
    subjects: Sequence[str]
    handler: Handler
    max_deliver: int = 5
    backoff: Sequence[float] = (1.0, 5.0, 30.0, 120.0)
    ack_wait: float = 30.0
    batch: int = 32
    ordered: bool = True

    @property
    def fetch_size(self) -> int:
        return 1 if self.ordered else self.batch


@dataclass
class Bus:
    url: str
    stream: str = "SOCLE"
    name: str = "socle"
    connect_timeout: float = 5.0
    limits: StreamLimits = field(default_factory=StreamLimits)
    _nc: NATS | None = None
    _js: JetStreamContext | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    durables: list[str] = field(default_factory=list)
    """The durable consumers this process runs (their lag is a metric)."""
    _responders: list[tuple[str, str, Responder]] = field(default_factory=list)
    _last_error: str = ""
    _last_error_at: float = 0.0

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise BusUnavailable("bus not connected")
        return self._js

    async def connect(self) -> None:
        """Connect (then reconnect forever) and make sure the streams exist."""
        try:
            # Reconnects are unbounded once connected; the first connection is not, since
            # nats-py would otherwise retry it forever.
            async with asyncio.timeout(self.connect_timeout * 3):
                self._nc = await nats.connect(
                    self.url,
                    name=self.name,
                    connect_timeout=self.connect_timeout,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    allow_reconnect=True,
                    error_cb=self._on_error,
                )
        except Exception as exc:
            raise BusUnavailable(
                f"cannot reach NATS at {self.url} ({exc.__class__.__name__}); start it or set "
                "SOCLE_NATS_URL"
            ) from exc
        self._js = self._nc.jetstream()
        await self.ensure_streams()
        for subject, queue, responder in self._responders:
            await self._subscribe_responder(subject, queue, responder)

    async def start(self) -> None:
        """Connect if NATS answers; otherwise keep trying in the background, so the
        service starts and serves meanwhile (its events wait in the outbox)."""
        task = asyncio.create_task(self._connect_until_up())
        self._tasks.append(task)
        await asyncio.wait({task}, timeout=self.connect_timeout)
        if not self.connected:
            log.warning("bus_unavailable_at_start", url=self.url, retrying=True)

    async def _connect_until_up(self) -> None:
        while not self.connected:
            try:
                await self.connect()
            except BusUnavailable:
                await asyncio.sleep(1.0)
                continue
            log.info("bus_connected", url=self.url)

    async def _on_error(self, exc: Exception) -> None:
        # nats-py reports every reconnect attempt; one line per kind of error a minute.
        now = asyncio.get_running_loop().time()
        kind = exc.__class__.__name__
        if self._last_error != kind or now - self._last_error_at > 60.0:
            log.warning("bus_error", url=self.url, error=kind)
            self._last_error, self._last_error_at = kind, now

    async def ensure_streams(self) -> None:
        limits = self.limits
        await self._ensure_stream(
            self.stream_config(self.stream, ["socle.>"], limits.max_age_seconds)
        )
        await self._ensure_stream(
            self.stream_config(
                f"{self.stream}_DEADLETTER",
                [f"{DEAD_LETTER_PREFIX}.>"],
                limits.dead_letter_max_age_seconds,
            )
        )

    def stream_config(self, name: str, subjects: list[str], max_age: float) -> StreamConfig:
        limits = self.limits
        return StreamConfig(
            name=name,
            subjects=subjects,
            max_age=max_age,
            max_bytes=limits.max_bytes,
            num_replicas=limits.replicas,
            duplicate_window=limits.duplicate_window_seconds,
            discard=DiscardPolicy.OLD,
        )

    async def _ensure_stream(self, config: StreamConfig) -> None:
        """Create the stream, or bring an existing one to ``config`` (its limits only)."""
        name = str(config.name)
        try:
            info = await self.js.stream_info(name)
        except NotFoundError:
            with contextlib.suppress(Exception):
                await self.js.add_stream(config)
                log.info("stream_created", stream=name, **_limits_of(config))
                return
            info = await self.js.stream_info(name)  # another process created it meanwhile
        if _limits_of(info.config) == _limits_of(config):
            return
        wanted = replace(
            info.config,
            max_age=config.max_age,
            max_bytes=config.max_bytes,
            num_replicas=config.num_replicas,
            duplicate_window=config.duplicate_window,
        )
        try:
            await self.js.update_stream(wanted)
        except Exception as exc:  # e.g. more replicas than servers: keep serving, say so
            log.warning("stream_update_refused", stream=name, error=repr(exc)[:300])
            return
        log.info("stream_updated", stream=name, **_limits_of(config))

    async def publish(
        self,
        subject: str,
        payload: bytes,
        msg_id: str,
        headers: dict[str, str] | None = None,
        ack_wait: float = 2.0,
    ) -> None:
        """Publish and wait for JetStream's ack; ``msg_id`` de-duplicates retries."""
        if not self.connected:
            raise BusUnavailable("bus disconnected")
        all_headers = dict(headers or {})
        all_headers["Nats-Msg-Id"] = msg_id
        with tracer.start_as_current_span(
            f"publish {subject}", kind=SpanKind.PRODUCER, context=extract_context(headers)
        ):
            try:
                await self.js.publish(subject, payload, headers=all_headers, timeout=ack_wait)
            except Exception as exc:
                raise BusUnavailable(f"publish to {subject} failed: {exc!r}") from exc

    async def request(self, subject: str, payload: bytes, wait: float = 5.0) -> bytes:
        """Ask over core NATS (nothing is stored) and wait for one answer; BusUnavailable
        when nobody answers in time, at once when nobody listens on ``subject`` (NATS "no
        responders") or the responder failed."""
        if self._nc is None or not self.connected:
            raise BusUnavailable("bus disconnected")
        try:
            answer = await self._nc.request(subject, payload, timeout=wait)
        except Exception as exc:
            raise BusUnavailable(f"no answer on {subject}: {exc.__class__.__name__}") from exc
        if answer.headers and RESPONDER_FAILED in answer.headers:
            raise BusUnavailable(f"no answer on {subject}: the responder failed")
        return bytes(answer.data)

    def serve(self, subject: str, responder: Responder, *, queue: str) -> None:
        """Answer requests on ``subject`` (one process of ``queue`` answers each), from the
        next connection on; nats-py keeps the subscription across reconnects."""
        self._responders.append((subject, queue, responder))
        if self.connected:
            task = asyncio.create_task(self._subscribe_responder(subject, queue, responder))
            self._tasks.append(task)

    async def _subscribe_responder(self, subject: str, queue: str, responder: Responder) -> None:
        assert self._nc is not None

        async def answer(msg: Msg) -> None:
            try:
                reply = await responder(msg.data)
            except Exception as exc:  # told at once: the asker retries later
                log.warning("request_failed", subject=msg.subject, error=repr(exc)[:300])
                if msg.reply and self._nc is not None:
                    with contextlib.suppress(Exception):
                        await self._nc.publish(msg.reply, b"", headers={RESPONDER_FAILED: "1"})
                return
            with contextlib.suppress(Exception):
                await msg.respond(reply)

        await self._nc.subscribe(subject, queue=queue, cb=answer)

    async def publish_event(self, event: CloudEvent) -> None:
        """Publish an event directly (outside any outbox): for tests and tools."""
        await self.publish(event.nats_subject, event.to_bytes(), event.id, inject_headers())

    def start_consumer(self, spec: ConsumerSpec) -> None:
        self.durables.append(spec.durable)
        self._tasks.append(asyncio.create_task(self._consume(spec), name=spec.durable))

    def start_follower(self, subject: str, handler: Handler, *, since_seconds: float) -> None:
        """Every process (not one of a group) sees every event on ``subject``, starting
        ``since_seconds`` ago: an ephemeral consumer without acks, re-created after the
        last sequence seen whenever the bus comes back."""
        task = asyncio.create_task(self._follow(subject, handler, since_seconds))
        self._tasks.append(task)

    async def _follow(self, subject: str, handler: Handler, since_seconds: float) -> None:
        start = datetime.now(UTC) - timedelta(seconds=since_seconds)
        next_seq: int | None = None
        sub: JetStreamContext.PullSubscription | None = None
        while True:
            try:
                if sub is None:
                    config = ConsumerConfig(
                        ack_policy=AckPolicy.NONE,
                        inactive_threshold=60.0,
                        deliver_policy=DeliverPolicy.BY_START_SEQUENCE
                        if next_seq
                        else DeliverPolicy.BY_START_TIME,
                        opt_start_seq=next_seq,
                        opt_start_time=None if next_seq else start,
                    )
                    sub = await self.js.pull_subscribe(subject, stream=self.stream, config=config)
                msgs = await sub.fetch(64, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except TimeoutError:
                continue
            except Exception as exc:
                log.warning("follower_fetch_failed", subject=subject, error=repr(exc))
                sub = None
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                next_seq = msg.metadata.sequence.stream + 1
                try:
                    await handler(CloudEvent.from_bytes(msg.data))
                except Exception as exc:
                    log.warning("follower_event_failed", subject=msg.subject, error=repr(exc))

    async def _subscribe(self, spec: ConsumerSpec) -> JetStreamContext.PullSubscription:
        config = ConsumerConfig(
            durable_name=spec.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_deliver=spec.max_deliver,
            ack_wait=spec.ack_wait,
            filter_subjects=list(spec.subjects),
            # an existing durable is updated to this (create-or-update)
            max_ack_pending=1 if spec.ordered else 1000,
        )
        await self.js.add_consumer(self.stream, config)
        return await self.js.pull_subscribe_bind(spec.durable, self.stream)

    async def _consume(self, spec: ConsumerSpec) -> None:
        """Fetch and handle events: one at a time for an ordered consumer; otherwise up to
        ``spec.batch`` handled at once, the next fetched as soon as one is done, so an event
        whose handler waits (a producer slow to answer) holds back no other."""
        sub: JetStreamContext.PullSubscription | None = None
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                if len(running) >= spec.fetch_size:
                    await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                    continue
                try:
                    if sub is None:
                        sub = await self._subscribe(spec)
                    msgs = await sub.fetch(spec.fetch_size - len(running), timeout=1.0)
                except asyncio.CancelledError:
                    raise
                except TimeoutError:
                    continue
                except Exception as exc:
                    log.warning("consumer_fetch_failed", consumer=spec.durable, error=repr(exc))
                    sub = None
                    await asyncio.sleep(0.5)
                    continue
                if spec.ordered:
                    for msg in msgs:
                        await self._handle(spec, msg)
                    continue
                for msg in msgs:
                    task = asyncio.create_task(self._handle_guarded(spec, msg))
                    running.add(task)
                    task.add_done_callback(running.discard)
        finally:
            # unacknowledged events come again after ack_wait (or to another replica)
            for task in list(running):
                await stop_task(task)

    async def _handle_guarded(self, spec: ConsumerSpec, msg: Msg) -> None:
        try:
            await self._handle(spec, msg)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # not acknowledged: it comes again after ack_wait
            log.warning("event_handling_crashed", consumer=spec.durable, error=repr(exc)[:300])

    async def _handle(self, spec: ConsumerSpec, msg: Msg) -> None:
        attempt = msg.metadata.num_delivered
        if attempt > 1:
            REDELIVERIES.labels(spec.durable).inc()
        parsed: CloudEvent | Exception
        try:  # parsed once: the trace may be in the event itself
            parsed = CloudEvent.from_bytes(msg.data)
        except Exception as exc:
            parsed = exc
        carrier = event_carrier(msg.headers, parsed if isinstance(parsed, CloudEvent) else None)
        with tracer.start_as_current_span(
            f"consume {msg.subject}", kind=SpanKind.CONSUMER, context=extract_context(carrier)
        ) as span:
            try:
                if not isinstance(parsed, CloudEvent):
                    raise parsed
                event = parsed
                span.set_attribute("cloudevents.event_id", event.id)
                await spec.handler(event)
            except Exception as exc:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
                if attempt >= spec.max_deliver:
                    await self._dead_letter(spec, msg, exc)
                    return
                delay = spec.backoff[min(attempt - 1, len(spec.backoff) - 1)]
                log.warning(
                    "event_handling_failed",
                    consumer=spec.durable,
                    subject=msg.subject,
                    attempt=attempt,
                    retry_in=delay,
                    error=exc.__class__.__name__,
                )
                with contextlib.suppress(Exception):
                    await msg.nak(delay=delay)
                return
        with contextlib.suppress(Exception):
            await msg.ack()

    async def _dead_letter(self, spec: ConsumerSpec, msg: Msg, exc: Exception) -> None:
        headers = dict(msg.headers or {})
        headers["Socle-Error"] = f"{exc.__class__.__name__}: {exc}"[:500]
        headers["Socle-Original-Subject"] = msg.subject
        msg_id = headers.get("Nats-Msg-Id", "") + f":{spec.durable}"
        try:
            await self.publish(
                f"{DEAD_LETTER_PREFIX}.{spec.durable}.{msg.subject}", msg.data, msg_id, headers
            )
        except BusUnavailable:
            with contextlib.suppress(Exception):
                await msg.nak(delay=5.0)
            return
        DEAD_LETTERS.labels(spec.durable).inc()
        log.error(
            "event_dead_lettered",
            consumer=spec.durable,
            subject=msg.subject,
            error=exc.__class__.__name__,
        )
        with contextlib.suppress(Exception):
            await msg.term()

    async def close(self) -> None:
        for task in self._tasks:
            await stop_task(task)
        self._tasks.clear()
        if self._nc is not None:
            # Every publish already waited for its ack; close rather than drain (a drain can
            # wait its whole timeout on a status message a finished fetch left behind).
            with contextlib.suppress(Exception):
                await self._nc.close()
            self._nc = None
            self._js = None
