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


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span (None outside any trace)."""
    return inject_headers().get("traceparent")


def event_carrier(headers: dict[str, str] | None, event: object | None) -> dict[str, str]:
    """Where a consumer finds the producer's trace: the message headers, else the event's
    CloudEvents distributed-tracing extension (``traceparent``, ``tracestate``), read from
    the event already parsed (``None`` when it could not be)."""
    if headers and "traceparent" in headers:
        return headers
    carrier: dict[str, str] = dict(headers or {})
    for name in ("traceparent", "tracestate"):
        value = getattr(event, name, None)
        if isinstance(value, str):
            carrier[name] = value
    return carrier
