"""notify against bare loops: e-mails to an SMTP sink, signed webhooks to a local receiver."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx

from socle.bus import Bus
from socle.events import CloudEvent
from socle_dev.localinfra import ManagedProcess, NatsServer, SmtpSink, free_port, wait_for_port
from socle_dev.testing import TestIssuer

Case = tuple[str, str, str, str, float, float]
CONCURRENCY = 8
MAILS = 400
WEBHOOKS = 400
TENANT = "bench"
CPU_MS: dict[str, float] = {}
"""The last run's CPU time of the notify process per mail or delivery (ms), ``emails`` and
``webhooks``: steadier than a rate on a loaded machine."""
PROFILE = os.environ.get("SOCLE_BENCH_PROFILE")
"""A file name: py-spy records the notify process there (raw) while a row's ``ours`` runs."""


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _measured(pid: int, row: str, count: int) -> Iterator[None]:
    """Records the CPU time of ``pid`` per item in ``CPU_MS[row]``; py-spy on it when
    ``SOCLE_BENCH_PROFILE`` names a file."""
    spy = None
    if PROFILE:
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "-r",
                "200",
                "-f",
                "raw",
                "-o",
                f"{PROFILE}.{row}",
                "-p",
                str(pid),
            ],
            stdout=subprocess.DEVNULL,
        )
    before = _cpu_seconds(pid)
    try:
        yield
    finally:
        CPU_MS[row] = (_cpu_seconds(pid) - before) * 1000 / count
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait()


async def _until(done: Callable[[], bool], what: str, within: float = 120) -> None:
    async with asyncio.timeout(within):
        while not done():
            await asyncio.sleep(0.01)
    del what


async def _concurrently(count: int, one: Callable[[int], Awaitable[None]]) -> None:
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            await one(i)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


@contextlib.asynccontextmanager
async def _notify(
    folder: Path, smtp_port: int
) -> AsyncIterator[tuple[httpx.AsyncClient, Any, int]]:
    """notify as operators run it (one process, SQLite), with the e-mail rate limit lifted
    and 8 deliveries at once; an HTTP client with an admin/sender token, the NATS server and
    the process id."""
    issuer = TestIssuer("https://identity.bench")
    issuer.start()
    nats = NatsServer.create(folder / f"nats-{free_port()}", free_port())
    nats.start()
    port = free_port()
    env = dict(
        os.environ,
        SOCLE_DATABASE_URL=f"sqlite+aiosqlite:///{folder}/notify-{port}.db",
        SOCLE_NATS_URL=nats.url,
        SOCLE_ISSUER=issuer.issuer,
        SOCLE_JWKS_URL=issuer.jwks_url,
        SOCLE_SMTP_PORT=str(smtp_port),
        SOCLE_EMAIL_RATE_PER_MINUTE="0",
        SOCLE_WORKER_CONCURRENCY=str(CONCURRENCY),
        SOCLE_WEBHOOK_ALLOW_PRIVATE="true",
    )
    python = [sys.executable, "-m", "socle_notify"]
    proc = ManagedProcess([*python, "serve", "--port", str(port)], env=env)
    try:
        await asyncio.to_thread(subprocess.run, [*python, "migrate"], env=env, check=True)
        proc.start()
        wait_for_port(port, 60, proc=proc.proc)
        token = issuer.token(
            audience="socle-notify",
            tenant=TENANT,
            subject="bench",
            client_id="bench",
            roles=[],
            scopes=["notifications:send", "notifications:admin", "notifications:read"],
            lifetime=3600,
        )
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            limits=httpx.Limits(max_connections=CONCURRENCY),
        ) as client:
            assert proc.proc is not None
            yield client, nats, proc.proc.pid
    finally:
        proc.stop()
        nats.stop()
        issuer.stop()


async def emails(folder: Path) -> Case:
    """E-mails from the API call to the SMTP sink (aiosmtpd, in the bench process): 400
    `POST /v1/notifications/email` from 8 concurrent clients to one notify process (SQLite,
    `SOCLE_EMAIL_RATE_PER_MINUTE=0`: the default limit of 600 a minute per tenant is lifted
    for the measurement, `SOCLE_WORKER_CONCURRENCY=8`), timed until the sink holds them all,
    against a bare aiosmtplib loop sending the same number of mails, 8 at once, to the same
    sink."""
    sink = SmtpSink(free_port())
    sink.start()
    try:
        async with _notify(folder, sink.port) as (client, _, pid):
            template = await client.post(
                "/v1/templates",
                json={
                    "name": "Bench",
                    "channel": "email",
                    "default_language": "fr",
                    "contents": {"fr": {"subject": "Reçu ((n))", "body": "Bonjour ((n))"}},
                },
            )
            template.raise_for_status()
            template_id = template.json()["id"]

            async def send(i: int) -> None:
                answer = await client.post(
                    "/v1/notifications/email",
                    json={
                        "template_id": template_id,
                        "to": f"person{i}@commune.example",
                        "personalisation": {"n": str(i)},
                    },
                )
                answer.raise_for_status()

            with _measured(pid, "emails", MAILS):
                start = time.perf_counter()
                await _concurrently(MAILS, send)
                await _until(lambda: len(sink.messages) >= MAILS, "notify's mails")
                ours = MAILS / (time.perf_counter() - start)

        sink.messages.clear()

        async def bare(i: int) -> None:
            message = EmailMessage()
            message["From"] = "Socle <noreply@socle.localhost>"
            message["To"] = f"person{i}@commune.example"
            message["Subject"] = f"Reçu {i}"
            message.set_content(f"Bonjour {i}")
            await aiosmtplib.send(message, hostname="127.0.0.1", port=sink.port)

        start = time.perf_counter()
        await _concurrently(MAILS, bare)
        await _until(lambda: len(sink.messages) >= MAILS, "the bare loop's mails")
        peer = MAILS / (time.perf_counter() - start)
    finally:
        sink.stop()
    return (
        "e-mails, API call to the SMTP sink (8 at once)",
        "notify (rate limit lifted)",
        "bare aiosmtplib loop",
        "mails/s",
        ours,
        peer,
    )


class _Receiver:
    """A local webhook receiver: counts the POSTs it answered 204."""

    def __init__(self) -> None:
        self.count = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(204)
                self.end_headers()
                with lock:
                    receiver.count += 1

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _signed(secret: str, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers, as notify signs."""
    delivery, stamp = str(uuid.uuid4()), str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{delivery}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "content-type": "application/json",
        "webhook-id": delivery,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


async def webhooks(folder: Path) -> Case:
    """Webhook deliveries per second to a local receiver (Python's threading HTTP server,
    keep-alive): 400 `payment.succeeded` events published on the bus for a tenant with one
    subscription, timed from the first publish until the receiver answered all 400 signed
    POSTs (notify's consumer turns each event into a delivery row, its worker posts 8 at
    once), against a bare httpx loop posting the same 400 CloudEvent bodies, signed the same
    way (Standard Webhooks HMAC-SHA256), 8 at once, to the same receiver."""
    receiver = _Receiver()
    try:
        async with _notify(folder, free_port()) as (client, nats, pid):
            subscription = await client.post(
                "/v1/subscriptions",
                json={"callback_url": receiver.url, "event_types": ["payment.succeeded"]},
            )
            subscription.raise_for_status()
            secret = subscription.json()["secret"]
            events = [
                CloudEvent.new(
                    service="payment",
                    type="payment.succeeded",
                    tenant=TENANT,
                    data={"payment_id": str(uuid.uuid4()), "amount": 5000, "currency": "CHF"},
                )
                for _ in range(WEBHOOKS)
            ]
            bus = Bus(url=nats.url, name="bench-publisher")
            await bus.connect()
            with _measured(pid, "webhooks", WEBHOOKS):
                start = time.perf_counter()
                await _concurrently(WEBHOOKS, lambda i: bus.publish_event(events[i]))
                await _until(lambda: receiver.count >= WEBHOOKS, "notify's deliveries")
                ours = WEBHOOKS / (time.perf_counter() - start)
            await bus.close()

        receiver.count = 0
        bodies = [event.to_bytes() for event in events]
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=CONCURRENCY)) as http:

            async def post(i: int) -> None:
                answer = await http.post(
                    receiver.url, content=bodies[i], headers=_signed(secret, bodies[i])
                )
                answer.raise_for_status()

            start = time.perf_counter()
            await _concurrently(WEBHOOKS, post)
            peer = WEBHOOKS / (time.perf_counter() - start)
    finally:
        receiver.stop()
    return (
        "webhook deliveries to a local receiver (8 at once)",
        "notify (event on the bus to receiver)",
        "bare httpx loop, same signed bodies",
        "deliveries/s",
        ours,
        peer,
    )


if __name__ == "__main__":  # rows alone: python -m bench.notify_cases [emails] [webhooks]
    import tempfile

    rows = sys.argv[1:] or ["emails", "webhooks"]
    known = {"emails": emails, "webhooks": webhooks}
    if any(row not in known for row in rows):
        raise SystemExit(f"rows: {', '.join(known)}")
    for row in rows:
        with tempfile.TemporaryDirectory() as tmp:
            load = os.getloadavg()
            _, ours_label, peer_label, unit, ours_rate, peer_rate = asyncio.run(
                known[row](Path(tmp))
            )
            print(
                f"{row}: ours {ours_rate:,.0f} {unit}, peer {peer_rate:,.0f} {unit}, "
                f"ratio {ours_rate / peer_rate:.2f}; notify's CPU {CPU_MS[row]:.2f} ms per item; "
                f"load average {load[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end",
                flush=True,
            )
