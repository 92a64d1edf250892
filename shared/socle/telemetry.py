"""JSON logs carrying the trace id, OpenTelemetry tracing, and Prometheus metrics."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog
from fastapi import FastAPI, Response
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _add_trace_ids(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict["trace_id"] = format(ctx.trace_id, "032x")
        event_dict["span_id"] = format(ctx.span_id, "016x")
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    """structlog JSON lines on stderr, with ``service`` and the current ``trace_id``."""
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_trace_ids,
            # Frames without local variables: those hold secrets, passwords and tokens.
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)


class _RecordWhenExported(Sampler):
    """Spans are recorded only when the provider has a span processor (an exporter) to give
    them to: without one they stay non-recording (trace ids still flow to logs and events),
    which costs a fraction of a recorded span."""

    def __init__(self) -> None:
        self.provider: TracerProvider | None = None
        self._delegate = ParentBased(ALWAYS_ON)

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        provider = self.provider
        if provider is None or not provider._active_span_processor._span_processors:
            return SamplingResult(Decision.DROP)
        return self._delegate.should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return "RecordWhenExported"


def configure_tracing(service: str) -> None:
    """Install a tracer provider once per process (exporters come from ``OTEL_*``)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        sampler = _RecordWhenExported()
        provider = TracerProvider(
            resource=Resource.create({"service.name": f"socle-{service}"}), sampler=sampler
        )
        sampler.provider = provider
        trace.set_tracer_provider(provider)
        HTTPXClientInstrumentor().instrument()


def instrument_app(app: FastAPI, engine: AsyncEngine) -> None:
    # One server span a request; no extra span for each ASGI message sent or received.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"]
    )
    # Per engine: the public instrument() works once per process, and a process (a test
    # run, for one) may hold several services' engines.
    SQLAlchemyInstrumentor()._instrument(engine=engine.sync_engine)  # type: ignore[no-untyped-call]


_PROBES = ("/healthz", "/readyz", "/metrics")


class Metrics:
    """Per-application Prometheus registry with request counters and latency."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests answered",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
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
        self.service = service

    def report_backlog(self, loop: str, items: int) -> None:
        self.backlog.labels(self.service, loop).set(items)

    def count_dependency_failure(self, dependency: str) -> None:
        self.dependency_failures.labels(self.service, dependency).inc()

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
                    metrics.latency.labels(metrics.service, method, path).observe(
                        time.perf_counter() - start
                    )
                    metrics.requests.labels(metrics.service, method, path, str(status)).inc()
                    if status < 400 and on_success is not None and path not in _PROBES:
                        on_success()

        app.add_middleware(_Measure)

        @app.get("/metrics", include_in_schema=False)
        async def _metrics() -> Response:
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
