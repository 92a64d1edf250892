"""W3C trace context carried in NATS headers, so a trace crosses the bus."""

from __future__ import annotations

import json

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


def event_carrier(headers: dict[str, str] | None, payload: bytes) -> dict[str, str]:
    """Where a consumer finds the producer's trace: the message headers, else the event's
    CloudEvents distributed-tracing extension (``traceparent``, ``tracestate``)."""
    carrier = dict(headers or {})
    if "traceparent" not in carrier:
        try:
            event = json.loads(payload)
        except ValueError:
            return carrier
        if isinstance(event, dict):
            for name in ("traceparent", "tracestate"):
                if isinstance(event.get(name), str):
                    carrier[name] = event[name]
    return carrier
