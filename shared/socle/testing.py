"""Helpers for tests: a local signing key served as a real JWKS, token minting, app lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from jwt.algorithms import ECAlgorithm

from socle.config import ServiceSettings


class TestIssuer:
    """An ES256 key pair whose public half is served at ``jwks_url`` over real HTTP."""

    __test__ = False

    def __init__(self, issuer: str = "https://identity.test") -> None:
        self.issuer = issuer
        self.kid = uuid.uuid4().hex[:16]
        self.key = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "ES256"})
        self.jwks: dict[str, Any] = {"keys": [jwk]}
        self._server: ThreadingHTTPServer | None = None

    @property
    def jwks_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}/jwks"

    def start(self) -> None:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(issuer.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def token(
        self,
        *,
        audience: str,
        tenant: str = "demo",
        scopes: Iterable[str] = (),
        subject: str = "user-1",
        roles: Iterable[str] = ("citizen",),
        lifetime: int = 300,
        headers: dict[str, Any] | None = None,
        key: Any = None,
        algorithm: str = "ES256",
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "client_id": "test-client",
            "scope": " ".join(scopes),
            "tenant": tenant,
            "roles": list(roles),
        }
        payload.update(claims)
        header = {"typ": "at+jwt", "kid": self.kid}
        header.update(headers or {})
        return jwt.encode(payload, key or self.key, algorithm=algorithm, headers=header)


@contextlib.asynccontextmanager
async def served(
    app: FastAPI, port: int, settings: ServiceSettings | None = None
) -> AsyncIterator[str]:
    """Serve the app over real HTTP on ``port`` as ``serve`` does (for browsers and real
    connections); yield its base URL."""
    from socle.cli import server_config

    config = server_config(app, "127.0.0.1", port, settings or ServiceSettings())
    config.lifespan = "on"
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # start-up failed: raise its error
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
"""Debian's Chromium, headless, without reaching for the network by itself."""


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A headless Chromium (Debian's, driven by Playwright; its own download is not used)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and yield an in-process HTTP client for it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def eventually(
    probe: Callable[[], Awaitable[bool]], what: str, within: float = 15.0
) -> float:
    """Wait until ``probe()`` is true (polling every 50 ms); the seconds it took. Fails
    naming ``what`` after ``within`` seconds."""
    start = time.monotonic()
    while not await probe():
        if time.monotonic() - start > within:
            raise AssertionError(f"gave up after {within} s waiting for {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


@contextlib.contextmanager
def served_in_thread(app: FastAPI) -> Iterator[str]:
    """Serve the app over real HTTP from its own thread and event loop (for synchronous
    clients such as schemathesis); yield its base URL."""
    from socle.localinfra import free_port

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            server.run()
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=serve, name="served-app", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the app did not start: {failure!r}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
