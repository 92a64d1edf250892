"""A bound on the requests a process serves at once: beyond it, 503 with Retry-After at
once, so that latency stays bounded under overload instead of every request slowing down."""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from socle.problems import PROBLEM_JSON, TYPE_BASE

ALWAYS_SERVED = ("/healthz", "/readyz", "/metrics")
RETRY_AFTER_SECONDS = 1


class InFlightLimit:
    """``on_refused(method)`` counts each request refused (the limit is the outermost
    layer, so that a refusal costs as little as possible: no tracing, no timing)."""

    def __init__(
        self, app: ASGIApp, *, limit: int, on_refused: Callable[[str], None] | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0
        self.on_refused = on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ALWAYS_SERVED:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            if self.on_refused is not None:
                self.on_refused(scope["method"])
            await self._refuse(scope, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "type": TYPE_BASE + "overloaded",
                "title": "Service unavailable",
                "status": 503,
                "detail": "The service is answering as many requests as it can; retry in a moment.",
                "instance": scope["path"],
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
