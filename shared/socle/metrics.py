"""Prometheus metrics at ``/metrics``: HTTP requests, process, and what operators watch in a
running service (outbox backlog, bus connection, consumer lag, dead letters, JWKS fetch
failures, database pool). The alert rules and the dashboard in ``deploy/helm/socle/files``
use these names."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from socle.db import outbox_table

log = structlog.get_logger("socle.metrics")

# Counted where they happen (bus, token verifier), whichever service the process runs.
LIBRARY = CollectorRegistry(auto_describe=True)
DEAD_LETTERS = Counter(
    "socle_dead_letters",
    "Events a consumer gave up on and moved to the dead-letter stream",
    ["consumer"],
    registry=LIBRARY,
)
REDELIVERIES = Counter(
    "socle_event_redeliveries",
    "Events handed to a consumer again after a failed or unacknowledged attempt",
    ["consumer"],
    registry=LIBRARY,
)
JWKS_FETCH_FAILURES = Counter(
    "socle_jwks_fetch_failures",
    "Failed fetches of the issuer's signing keys (tokens with a new key are refused meanwhile)",
    registry=LIBRARY,
)

SCRAPE_TIMEOUT_SECONDS = 2.0


class _Forward(Collector):
    """Expose another registry's metrics through an application's registry."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        return self.source.collect()


class RuntimeView(Protocol):
    """What the scrape reads from a running service (``socle.service.Runtime``)."""

    @property
    def engine(self) -> AsyncEngine: ...

    @property
    def bus(self) -> Any: ...


PROBES = ("/healthz", "/readyz", "/metrics")


class Metrics:
    """Per-application Prometheus registry: requests, process, and the service's state."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self._backlog_probes: dict[str, Callable[[], Awaitable[int]]] = {}
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(_Clone(collector))
        self.registry.register(_Forward(LIBRARY))
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests answered",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["service", "method", "route"],
            registry=self.registry,
        )
        self.dependency_failures = Counter(
            "dependency_failures_total",
            "Requests that failed because a dependency (database, object store...) was down",
            ["service", "dependency"],
            registry=self.registry,
        )
        self.backlog = Gauge(
            "background_backlog_items",
            "Items due for a background loop (purge, expiry...) when its last run started",
            ["service", "loop"],
            registry=self.registry,
        )
        gauge = self._gauge
        self.outbox_pending = gauge("socle_outbox_pending_events", "Events not yet published")
        self.outbox_age = gauge(
            "socle_outbox_oldest_pending_age_seconds",
            "Age of the oldest event not yet published (0 when none)",
        )
        self.bus_connected = gauge("socle_bus_connected", "1 when connected to NATS, else 0")
        self.pool_in_use = gauge(
            "socle_db_pool_connections_in_use", "Database connections checked out"
        )
        self.pool_capacity = gauge(
            "socle_db_pool_connections_max", "Most connections the pool opens (size + overflow)"
        )
        self.consumer_pending = Gauge(
            "socle_consumer_pending_events",
            "Events in the stream a durable consumer has not received yet (lag)",
            ["service", "consumer"],
            registry=self.registry,
        )
        self.consumer_unacked = Gauge(
            "socle_consumer_unacknowledged_events",
            "Events delivered to a durable consumer and not acknowledged yet",
            ["service", "consumer"],
            registry=self.registry,
        )

    def _gauge(self, name: str, documentation: str) -> Gauge:
        return Gauge(name, documentation, ["service"], registry=self.registry)

    async def refresh(self, runtime: RuntimeView) -> None:
        """Read the service's state into the gauges (each part bounded in time)."""
        self.bus_connected.labels(self.service).set(1 if runtime.bus.connected else 0)
        self._pool(runtime.engine)
        parts = [self._outbox(runtime.engine), self._consumers(runtime.bus)]
        parts += [self._probe_backlog(loop, probe) for loop, probe in self._backlog_probes.items()]
        for part in parts:
            try:
                async with asyncio.timeout(SCRAPE_TIMEOUT_SECONDS):
                    await part
            except Exception as exc:  # a scrape reports what it can
                log.warning("metrics_refresh_failed", error=exc.__class__.__name__)

    async def _outbox(self, engine: AsyncEngine) -> None:
        query = select(func.count(), func.min(outbox_table.c.created_at)).where(
            outbox_table.c.published_at.is_(None)
        )
        async with engine.connect() as conn:
            count, oldest = (await conn.execute(query)).one()
        self.outbox_pending.labels(self.service).set(count)
        self.report_backlog("outbox_relay", count)
        age = 0.0
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            age = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
        self.outbox_age.labels(self.service).set(age)

    async def _consumers(self, bus: Any) -> None:
        if not bus.connected:
            return
        for durable in getattr(bus, "durables", ()):
            info = await bus.js.consumer_info(bus.stream, durable)
            self.consumer_pending.labels(self.service, durable).set(info.num_pending or 0)
            self.consumer_unacked.labels(self.service, durable).set(info.num_ack_pending or 0)

    def _pool(self, engine: AsyncEngine) -> None:
        pool = engine.sync_engine.pool
        checked_out: Callable[[], int] | None = getattr(pool, "checkedout", None)
        size: Callable[[], int] | None = getattr(pool, "size", None)
        if checked_out is None or size is None:
            return  # SQLite's pools do not count
        self.pool_in_use.labels(self.service).set(checked_out())
        overflow = getattr(pool, "_max_overflow", 0)
        self.pool_capacity.labels(self.service).set(size() + max(0, overflow))

    def report_backlog(self, loop: str, items: int) -> None:
        self.backlog.labels(self.service, loop).set(items)

    def add_backlog_probe(self, loop: str, probe: Callable[[], Awaitable[int]]) -> None:
        """A queue whose backlog is counted at each scrape (``probe`` returns the items due),
        for loops that never pause long enough to count it themselves."""
        self._backlog_probes[loop] = probe

    async def _probe_backlog(self, loop: str, probe: Callable[[], Awaitable[int]]) -> None:
        self.report_backlog(loop, await probe())

    def count_refused(self, method: str) -> None:
        """A request refused for overload (503 before routing, so its route is unmatched)."""
        self.requests.labels(self.service, method, "unmatched", "503").inc()

    def count_dependency_failure(self, dependency: str) -> None:
        self.dependency_failures.labels(self.service, dependency).inc()

    def _series(self, method: str, path: str, status: int) -> tuple[Any, Any]:
        """The latency and count series of a request (looked up once: ``labels()`` per request
        was a few percent of a small request's time)."""
        key = (method, path, status)
        found = self._children.get(key)
        if found is None:
            found = (
                self.latency.labels(self.service, method, path),
                self.requests.labels(self.service, method, path, str(status)),
            )
            self._children[key] = found
        return found

    def install(self, app: FastAPI, on_success: Callable[[], None] | None = None) -> None:
        """Measure every request; ``on_success`` is called after each request (probes aside)
        answered below 400."""
        metrics = self

        class _Measure:
            """Pure ASGI (no BaseHTTPMiddleware: no extra task and stream per request)."""

            def __init__(self, app: ASGIApp) -> None:
                self.app = app

            async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
                if scope["type"] != "http":
                    await self.app(scope, receive, send)
                    return
                start = time.perf_counter()
                status = 500

                async def send_status(message: Message) -> None:
                    nonlocal status
                    if message["type"] == "http.response.start":
                        status = message["status"]
                    await send(message)

                try:
                    await self.app(scope, receive, send_status)
                finally:
                    path = getattr(scope.get("route"), "path", "unmatched")
                    method = scope["method"]
                    latency, count = metrics._series(method, path, status)
                    latency.observe(time.perf_counter() - start)
                    count.inc()
                    if status < 400 and on_success is not None and path not in PROBES:
                        on_success()

        app.add_middleware(_Measure)

        @app.get("/metrics", include_in_schema=False)
        async def _metrics(request: Request) -> Response:
            runtime = getattr(request.app.state, "runtime", None)
            if runtime is not None:
                await self.refresh(runtime)
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class _Clone(Collector):
    """A default collector (process, platform, GC) exposed through another registry."""

    def __init__(self, collector: Any) -> None:
        self.collector = collector

    def collect(self) -> Sequence[Metric]:
        with contextlib.suppress(Exception):
            return list(self.collector.collect())
        return []
