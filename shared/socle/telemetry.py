"""JSON logs carrying the trace id, OpenTelemetry tracing exported over OTLP when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, and (from :mod:`socle.metrics`) Prometheus metrics."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine

from socle.metrics import Metrics

__all__ = [
    "Metrics",
    "configure_logging",
    "configure_tracing",
    "flush_tracing",
    "instrument_app",
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


def tracing_resource(service: str) -> Resource:
    """``service.name`` is ``OTEL_SERVICE_NAME`` (or the one in ``OTEL_RESOURCE_ATTRIBUTES``),
    else ``socle-<service>``; the other ``OTEL_RESOURCE_ATTRIBUTES`` are kept."""
    from_env = OTELResourceDetector().detect()
    name = from_env.attributes.get(SERVICE_NAME) or f"socle-{service}"
    return Resource.create({SERVICE_NAME: name})


def configure_tracing(service: str) -> None:
    """Install a tracer provider once per process; with ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) set, spans are exported over OTLP/HTTP in batches
    (the exporter reads the other ``OTEL_EXPORTER_OTLP_*`` variables: headers, timeout)."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=tracing_resource(service))
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


def instrument_app(app: FastAPI, engine: AsyncEngine) -> None:
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
    # Per engine: the public instrument() works once per process, and a process (a test
    # run, for one) may hold several services' engines.
    SQLAlchemyInstrumentor()._instrument(engine=engine.sync_engine)  # type: ignore[no-untyped-call]
