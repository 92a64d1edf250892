"""W3C trace context carried in NATS headers, so a trace crosses the bus."""

from __future__ import annotations

from opentelemetry import propagate, trace
from opentelemetry.context import Context

tracer = trace.get_tracer("socle")


def inject_headers(headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers carrying the current trace context (``traceparent``)."""
    carrier: dict[str, str] = dict(headers or {})
    propagate.inject(carrier)
    return carrier


def extract_context(headers: dict[str, str] | None) -> Context:
    return propagate.extract(headers or {})
