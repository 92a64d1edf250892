"""The test toolbox: a local signing key served as a real JWKS and token minting, an app's
lifespan in-process or served over HTTP, waiting on a condition, problem+json answers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from jwt.algorithms import ECAlgorithm

from socle.config import ServiceSettings
from socle_dev.stub_http import Answer, StubServer

T = TypeVar("T")


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
        self._server: StubServer | None = None

    @property
    def jwks_url(self) -> str:
        assert self._server is not None
        return f"{self._server.url}/jwks"

    def start(self) -> None:
        """Serve the JWKS as it is at each request (a test may publish another key)."""
        server = StubServer()
        server.respond = lambda _: Answer(
            200, json.dumps(self.jwks).encode(), {"Content-Type": "application/json"}
        )
        self._server = server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

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
    probe: Callable[[], Awaitable[T]], what: str, within: float = 15.0, every: float = 0.05
) -> T:
    """Wait until ``probe()`` returns something true (polling every ``every`` seconds) and
    return it. Fails naming ``what`` after ``within`` seconds: a safety net, never a measure."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {within} s waiting for {what} (last: {result!r})")
        await asyncio.sleep(every)


def assert_problem(
    response: httpx.Response, status: int, type_suffix: str, *, instance: bool = True
) -> dict[str, Any]:
    """Assert an RFC 9457 answer: ``status``, ``application/problem+json``, a ``type`` ending
    in ``/<type_suffix>`` (the stable code), a title, a detail and (unless ``instance`` is
    false) the instance; the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://socle.swiss/problems/{type_suffix}", body
    assert body["status"] == status, body
    assert body["title"] and body["detail"], body
    if instance:
        assert body.get("instance"), body
    return body


@contextlib.contextmanager
def served_in_thread(app: FastAPI) -> Iterator[str]:
    """Serve the app over real HTTP from its own thread and event loop (for synchronous
    clients such as schemathesis); yield its base URL."""
    from socle_dev.localinfra import free_port

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
