"""A stub HTTP server for tests: a real server on a free port, in its own thread, that records
every request and answers what the test set (a webhook receiver, an SMS gateway, a JWKS)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    """One request the stub received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class StubServer:
    """``with StubServer() as stub``: ``stub.url``; ``stub.requests`` lists what arrived.

    Every request gets ``status``/``body``/``content_type`` (after ``delay`` seconds), unless
    ``respond`` is set: a function of the request that returns an :class:`Answer`."""

    def __init__(
        self,
        *,
        status: int = 200,
        body: bytes = b"",
        content_type: str = "application/json",
    ) -> None:
        self.requests: list[Recorded] = []
        self.status = status
        self.body = body
        self.content_type = content_type
        self.delay = 0.0
        self.respond: Callable[[Recorded], Answer] | None = None
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                request = Recorded(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                stub.requests.append(request)
                if stub.delay:
                    time.sleep(stub.delay)
                answer = (
                    stub.respond(request)
                    if stub.respond
                    else Answer(stub.status, stub.body, {"Content-Type": stub.content_type})
                )
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> StubServer:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
