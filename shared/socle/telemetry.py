"""JSON logs (every logger) carrying the trace id, OpenTelemetry tracing exported over OTLP when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, and (from :mod:`socle.metrics`) Prometheus metrics."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import weakref
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import structlog
from fastapi import FastAPI
from opentelemetry import context, metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.sqlalchemy.version import (
    __version__ as _sqlalchemy_tracing_version,
)
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    Sampler,
    SamplingResult,
)
from pydantic_settings import BaseSettings
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from socle.metrics import Metrics

__all__ = [
    "Metrics",
    "configure_logging",
    "configure_tracing",
    "flush_tracing",
    "instrument_app",
    "log_startup",
    "settings_summary",
]

OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def _add_trace_ids(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict["trace_id"] = format(ctx.trace_id, "032x")
        event_dict["span_id"] = format(ctx.span_id, "016x")
    return event_dict


# Events repeated on every retry while a dependency is down: one line a minute each, the
# next one saying how many were left out.
REPEATING_EVENTS = frozenset(
    {
        "bus_error",
        "outbox_publish_deferred",
        "follower_fetch_failed",
        "consumer_fetch_failed",
        "jwks_fetch_failed",
        "metrics_refresh_failed",
    }
)
REPEAT_WINDOW_SECONDS = 60.0
# Loggers that log each request with its URL (which may carry presigned signatures): warnings
# and errors only.
QUIET_LOGGERS = {"httpx": "WARNING", "httpcore": "WARNING"}


class RateLimitRepeats:
    """A structlog processor dropping repeats of the same event within a window."""

    def __init__(
        self,
        events: frozenset[str],
        window: float = REPEAT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.events = events
        self.window = window
        self.clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self._skipped: dict[tuple[str, str], int] = {}

    def __call__(
        self, _: Any, __: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event = str(event_dict.get("event", ""))
        if event not in self.events:
            return event_dict
        key = (str(event_dict.get("service", "")), event)
        now = self.clock()
        if now - self._last.get(key, float("-inf")) < self.window:
            self._skipped[key] = self._skipped.get(key, 0) + 1
            raise structlog.DropEvent
        self._last[key] = now
        skipped = self._skipped.pop(key, 0)
        if skipped:
            event_dict["repeats_not_logged"] = skipped
        return event_dict


_rate_limit = RateLimitRepeats(REPEATING_EVENTS)


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
        _rate_limit,
        _errors_without_data,
    ]


def first_line(message: str, limit: int = 300) -> str:
    """A message up to its first line break, real or escaped (``repr`` of an exception writes
    ``\\n``): what follows carries a database's DETAIL with the refused row or the
    statement's parameters."""
    return message.split("\n", 1)[0].split("\\n", 1)[0][:limit]


def _errors_without_data(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """An ``error`` field (a caught exception's ``repr`` or ``str``) reduced to its first line,
    as :class:`_TracebackWithoutData` does for a logged traceback."""
    error = event_dict.get("error")
    if isinstance(error, BaseException):
        error = repr(error)
    if isinstance(error, str):
        event_dict["error"] = first_line(error)
    return event_dict


class _TracebackWithoutData:
    """A logged exception as structlog's dictionary, without what quotes data: frames
    without local variables (those hold secrets, passwords and tokens) and each message
    reduced to its first line (the lines after it carry a database's DETAIL with the refused
    row, the statement's parameters, or a validation error's input values)."""

    def __init__(self) -> None:
        self._inner = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)

    def __call__(self, exc_info: Any) -> list[dict[str, Any]]:
        trace = self._inner(exc_info)
        self._trim(trace)
        return trace

    def _trim(self, stacks: list[dict[str, Any]]) -> None:
        for stack in stacks:
            value = stack.get("exc_value")
            if isinstance(value, str):
                stack["exc_value"] = first_line(value, 500)
            stack["exc_notes"] = []
            for group in stack.get("exceptions") or []:
                self._trim(group)


def _render() -> list[Any]:
    return [
        structlog.processors.ExceptionRenderer(_TracebackWithoutData()),
        structlog.processors.JSONRenderer(),
    ]


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (not when configured)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def _stderr_logger(*_: Any) -> structlog.PrintLogger:
    """A logger printing to whatever ``sys.stderr`` is when it logs: a stream replaced since
    configuration (and closed since) must not make a log call raise."""
    return structlog.PrintLogger(sys.stderr)


def configure_logging(service: str, level: str = "INFO") -> None:
    """One JSON line on stderr per record, for structlog and every standard-library logger
    (uvicorn, alembic, httpx, nats...), with ``service``, ``logger`` and the current
    ``trace_id``; repeats of an outage's retry warnings at most once a minute."""
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*_shared_processors(), structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_render()],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):  # ours from an earlier call, or a plain basicConfig one
        if type(old) in (_StderrHandler, logging.StreamHandler):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name, quiet in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet)
    structlog.configure(
        processors=[*_shared_processors(), *_render()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)


SECRET_WORDS = ("secret", "password", "token", "key", "salt", "credential")


def settings_summary(settings: BaseSettings) -> dict[str, Any]:
    """The settings worth a start-up line: no secrets, and URLs without their password."""
    summary: dict[str, Any] = {}
    for name, value in settings.model_dump().items():
        if any(word in name for word in SECRET_WORDS):
            continue
        if isinstance(value, str) and "://" in value:
            with contextlib.suppress(ArgumentError, ValueError):
                value = make_url(value).render_as_string(hide_password=True)
        if isinstance(value, str | int | float | bool) or value is None:
            summary[name] = value
    return summary


def log_startup(service: str, version: str, settings: BaseSettings) -> None:
    """One line when a service starts: its version and its settings (without secrets)."""
    structlog.get_logger("socle.service").info(
        "service_starting", version=version, settings=settings_summary(settings)
    )


def tracing_resource(service: str) -> Resource:
    """``service.name`` is ``OTEL_SERVICE_NAME`` (or the one in ``OTEL_RESOURCE_ATTRIBUTES``),
    else ``socle-<service>``; the other ``OTEL_RESOURCE_ATTRIBUTES`` are kept."""
    from_env = OTELResourceDetector().detect()
    name = from_env.attributes.get(SERVICE_NAME) or f"socle-{service}"
    return Resource.create({SERVICE_NAME: name})


class _RecordWhenExported(Sampler):
    """Spans are recorded only when the provider has a span processor (an exporter) to give
    them to: without one they stay non-recording (trace ids still flow to logs and events),
    which costs a fraction of a recorded span. A process that exports records its spans even
    when the caller did not (its ``traceparent`` says "not sampled" because the caller has
    no exporter): the trace id is kept, so the trace still joins up."""

    def __init__(self) -> None:
        self.provider: TracerProvider | None = None
        self._delegate = ALWAYS_ON

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        provider = self.provider
        if provider is None or not provider._active_span_processor._span_processors:
            return SamplingResult(Decision.DROP)
        return self._delegate.should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return "RecordWhenExported"


class _CallersTraceWins(TextMapPropagator):
    """The process's propagator, except that a carrier already naming a trace (a request the
    caller gave its own ``traceparent``) keeps it: the instrumented httpx client would
    otherwise replace it with the current context, a new trace when there is none."""

    def __init__(self, inner: TextMapPropagator) -> None:
        self.inner = inner

    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> Context:
        return self.inner.extract(carrier, context, getter)

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        if isinstance(carrier, Mapping) and "traceparent" in carrier:
            return
        self.inner.inject(carrier, context, setter)

    @property
    def fields(self) -> set[str]:
        return self.inner.fields


def configure_tracing(service: str) -> None:
    """Install a tracer provider once per process; with ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) set, spans are exported over OTLP/HTTP in batches
    (the exporter reads the other ``OTEL_EXPORTER_OTLP_*`` variables: headers, timeout).
    Outgoing httpx requests carry the current trace, unless the caller set a ``traceparent``
    of its own."""
    textmap = propagate.get_global_textmap()
    if not isinstance(textmap, _CallersTraceWins):
        propagate.set_global_textmap(_CallersTraceWins(textmap))
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    sampler = _RecordWhenExported()
    provider = TracerProvider(resource=tracing_resource(service), sampler=sampler)
    sampler.provider = provider
    if any(os.environ.get(name) for name in OTLP_ENDPOINT_VARIABLES):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument()


def flush_tracing(timeout_millis: int = 5000) -> None:
    """Send the spans still buffered (at shutdown, before the process ends)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush(timeout_millis)


def _exporting() -> bool:
    """Whether spans go anywhere: the process's tracer provider has a span processor."""
    provider = trace.get_tracer_provider()
    return isinstance(provider, TracerProvider) and bool(
        provider._active_span_processor._span_processors
    )


_TRACE_HEADERS = (b"traceparent", b"tracestate")
_ids = RandomIdGenerator()


class TraceContext:
    """Pure ASGI: each request runs in the trace its ``traceparent`` header names (a new one
    without it), as a non-recording span, so logs and the events it publishes carry the trace
    id; no span object, attributes or route lookup (what the OpenTelemetry middleware costs
    per request even when nothing records its spans)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode(): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in _TRACE_HEADERS
        }
        parent = (
            trace.get_current_span(propagate.extract(carrier)).get_span_context()
            if carrier
            else trace.INVALID_SPAN_CONTEXT
        )
        span = trace.NonRecordingSpan(
            trace.SpanContext(
                trace_id=parent.trace_id if parent.is_valid else _ids.generate_trace_id(),
                span_id=_ids.generate_span_id(),
                is_remote=False,
                trace_flags=parent.trace_flags if parent.is_valid else trace.TraceFlags(0),
                trace_state=parent.trace_state if parent.is_valid else None,
            )
        )
        token = context.attach(trace.set_span_in_context(span))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)


def instrument_app(app: FastAPI, engine: AsyncEngine) -> None:
    """With an exporter (a span processor on the tracer provider when the app is built): one
    server span a request and a span per SQL statement. Without: only the trace context
    (:class:`TraceContext`), which is all logs and events need."""
    if not _exporting():
        app.add_middleware(TraceContext)
        return
    # One server span a request; no extra span for each ASGI message sent or received.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"]
    )
    _trace_statements(engine)


_TRACED_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _trace_statements(engine: AsyncEngine) -> None:
    """A span per SQL statement of ``engine``, once however many apps are built on it.

    The instrumentor's ``instrument()`` works once per process, and its ``_instrument()``
    wraps SQLAlchemy's ``create_engine`` and ``Engine.connect`` again at every call: a
    process building several apps (a test run) stacked a layer per app on every connect.
    Only the engine's own listeners are installed here."""
    sync = engine.sync_engine
    if sync in _TRACED_ENGINES:
        return
    _TRACED_ENGINES.add(sync)
    name = "opentelemetry.instrumentation.sqlalchemy"
    usage = metrics.get_meter(name, _sqlalchemy_tracing_version).create_up_down_counter(
        name="db.client.connections.usage",
        unit="connections",
        description="The number of connections that are currently in state described by the "
        "state attribute.",
    )
    EngineTracer(trace.get_tracer(name, _sqlalchemy_tracing_version), sync, usage)  # type: ignore[no-untyped-call]
