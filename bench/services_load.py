"""Load across the services: many concurrent clients on identity, payment, storage and notify
of the platform as ``make run`` starts it, for a fixed time (figures, not asserted).

Each client is a good client: a 503 is waited out (its ``Retry-After``) and the same request
sent again, with the same ``Idempotency-Key``; a shed request that then succeeds is not an
error. Errors are any other answer than the one expected (a 5xx other than 503 first),
connection errors, client timeouts and requests still refused when the run's grace ends.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.stack import Memory, Stack, Tally, platform

CLIENT_TIMEOUT_SECONDS = 30.0
RETRY_GRACE_SECONDS = 60.0
"""After the run's end, how long a request refused with 503 may still be retried."""
MAIL_DRAIN_SECONDS = 120.0
PDF = b"%PDF-1.7\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 100 + b"%%EOF\n"
SCOPES = (
    "payments:read payments:write documents:read documents:write "
    "notifications:send notifications:admin"
)
SERVICES = ("identity", "payment", "storage", "notify")


@dataclass
class Service:
    name: str
    what: str
    tallies: dict[str, Tally] = field(default_factory=dict)
    operations: int = 0
    retried: int = 0
    """Requests answered 503 at least once, then sent again."""

    def tally(self, label: str) -> Tally:
        return self.tallies.setdefault(label, Tally())

    def total(self) -> Tally:
        total = Tally()
        for tally in self.tallies.values():
            total.merge(tally)
        return total


class Refused(Exception):
    """A request of an operation did not get the answer it wanted (already counted)."""


@dataclass
class Run:
    seconds: float
    until: float = 0.0
    token: str = ""

    async def send(
        self,
        service: Service,
        label: str,
        call: Callable[[], Awaitable[httpx.Response]],
        expected: int,
    ) -> httpx.Response:
        """``call`` until it is answered other than 503, as a good client; counted."""
        tally = service.tally(label)
        shed = False
        while True:
            started = time.monotonic()
            try:
                response = await call()
            except httpx.TimeoutException:
                tally.add("client timeout", None)
                tally.errors["client timeout"] += 1
                raise Refused from None
            except httpx.HTTPError as exc:
                what = f"connection error ({exc.__class__.__name__})"
                tally.add(what, None)
                tally.errors[what] += 1
                raise Refused from None
            tally.add(str(response.status_code), time.monotonic() - started)
            if response.status_code != 503:
                break
            if not shed:
                service.retried += 1
                shed = True
            if time.monotonic() > self.until + RETRY_GRACE_SECONDS:
                tally.errors["still 503 at the end"] += 1
                raise Refused
            await asyncio.sleep(min(float(response.headers.get("retry-after", "1")), 30.0))
        if response.status_code != expected:
            tally.errors[str(response.status_code)] += 1
            raise Refused
        return response


async def _identity(run: Run, s: Service, http: httpx.AsyncClient, creds: tuple[str, str]) -> None:
    await run.send(
        s,
        "POST /token",
        lambda: http.post(
            "/token",
            data={"grant_type": "client_credentials", "scope": "payments:read"},
            auth=creds,
        ),
        200,
    )


def payment_body(key: str) -> dict[str, object]:
    """The payment every load client creates (``key``: its Idempotency-Key)."""
    return {
        "amount": 5000,
        "currency": "CHF",
        "reference": key[:20],
        "description": "Load",
        "return_url": "http://localhost/back",
        "provider": "sandbox",
    }


async def _payment(run: Run, s: Service, http: httpx.AsyncClient) -> None:
    key = uuid.uuid4().hex
    created = await run.send(
        s,
        "POST /v1/payments",
        lambda: http.post(
            "/v1/payments",
            json=payment_body(key),
            headers={"Authorization": f"Bearer {run.token}", "Idempotency-Key": key},
        ),
        201,
    )
    payment_id = created.json()["id"]
    await run.send(
        s,
        "GET /v1/payments/{id}",
        lambda: http.get(
            f"/v1/payments/{payment_id}", headers={"Authorization": f"Bearer {run.token}"}
        ),
        200,
    )


async def _storage(run: Run, s: Service, http: httpx.AsyncClient) -> None:
    key = uuid.uuid4().hex
    uploaded = await run.send(
        s,
        "POST /v1/documents (4 KiB PDF)",
        lambda: http.post(
            "/v1/documents",
            data={"kind": "plan"},
            files={"file": ("plan.pdf", PDF, "application/pdf")},
            headers={"Authorization": f"Bearer {run.token}", "Idempotency-Key": key},
        ),
        201,
    )
    document_id = uploaded.json()["id"]
    await run.send(
        s,
        "GET /v1/documents/{id}/content",
        lambda: http.get(
            f"/v1/documents/{document_id}/content",
            headers={"Authorization": f"Bearer {run.token}"},
        ),
        200,
    )


async def _notify(run: Run, s: Service, http: httpx.AsyncClient, template_id: str) -> None:
    key = uuid.uuid4().hex
    await run.send(
        s,
        "POST /v1/notifications/email",
        lambda: http.post(
            "/v1/notifications/email",
            json={
                "template_id": template_id,
                "to": f"person-{key[:12]}@commune.example",
                "personalisation": {"n": key[:8]},
            },
            headers={"Authorization": f"Bearer {run.token}", "Idempotency-Key": key},
        ),
        201,
    )


async def _client(run: Run, service: Service, operation: Callable[[], Awaitable[None]]) -> None:
    while time.monotonic() < run.until:
        try:
            await operation()
            service.operations += 1
        except Refused:
            await asyncio.sleep(0.05)


async def _token(stack: Stack) -> tuple[str, int]:
    client = stack.credentials["client"]
    async with httpx.AsyncClient(base_url=stack.urls["identity"]) as http:
        answer = await http.post(
            "/token",
            data={"grant_type": "client_credentials", "scope": SCOPES},
            auth=(client["client_id"], client["client_secret"]),
        )
        answer.raise_for_status()
        return answer.json()["access_token"], int(answer.json()["expires_in"])


async def _refresh(run: Run, stack: Stack, lifetime: int) -> None:
    while True:
        await asyncio.sleep(max(lifetime / 2, 5))
        run.token, lifetime = await _token(stack)


async def _template(stack: Stack, token: str) -> str:
    async with httpx.AsyncClient(base_url=stack.urls["notify"]) as http:
        answer = await http.post(
            "/v1/templates",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "name": "Load",
                "channel": "email",
                "default_language": "fr",
                "contents": {"fr": {"subject": "Avis ((n))", "body": "Bonjour ((n))"}},
            },
        )
        answer.raise_for_status()
        return str(answer.json()["id"])


def _mails(stack: Stack) -> int:
    return sum(1 for _ in (stack.var / "mail").glob("*.eml"))


async def _load(stack: Stack, clients: int, seconds: float) -> tuple[list[Service], list[str]]:
    run = Run(seconds)
    run.token, lifetime = await _token(stack)
    template_id = await _template(stack, run.token)
    mails_before = _mails(stack)
    creds = (stack.credentials["client"]["client_id"], stack.credentials["client"]["client_secret"])
    services = {
        "identity": Service("identity", "a client-credentials token"),
        "payment": Service("payment", "a payment created (Idempotency-Key), then read"),
        "storage": Service("storage", "a 4 KiB PDF uploaded, then downloaded"),
        "notify": Service("notify", "an e-mail to the mail sink (rate limit lifted)"),
    }
    per = clients // len(services)
    limits = httpx.Limits(max_connections=per, max_keepalive_connections=per)
    https = {
        name: httpx.AsyncClient(
            base_url=stack.urls[name], limits=limits, timeout=CLIENT_TIMEOUT_SECONDS
        )
        for name in services
    }
    ops: dict[str, Callable[[], Awaitable[None]]] = {
        "identity": lambda: _identity(run, services["identity"], https["identity"], creds),
        "payment": lambda: _payment(run, services["payment"], https["payment"]),
        "storage": lambda: _storage(run, services["storage"], https["storage"]),
        "notify": lambda: _notify(run, services["notify"], https["notify"], template_id),
    }
    memory = Memory({name: stack.pids[name] for name in services if name in stack.pids})
    memory.sample()
    refresher = asyncio.create_task(_refresh(run, stack, lifetime))
    cpu, started = time.process_time(), time.monotonic()
    run.until = started + seconds
    tasks = [
        asyncio.create_task(_client(run, services[name], ops[name]))
        for name in services
        for _ in range(per)
    ]
    while not all(t.done() for t in tasks):
        await asyncio.wait(tasks, timeout=2.0)
        memory.sample()
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    refresher.cancel()
    for t in tasks:
        t.result()
    for http in https.values():
        await http.aclose()
    sent = services["notify"].operations
    drain = time.monotonic()
    while _mails(stack) - mails_before < sent and time.monotonic() - drain < MAIL_DRAIN_SECONDS:
        await asyncio.sleep(0.5)
    lines = [
        f"Ran {elapsed:.0f} s; the bench's own process (the {per * len(services)} clients) used "
        f"{cpu:.0f} s of CPU. Mails in the sink: {_mails(stack) - mails_before:,} of the "
        f"{sent:,} accepted, {time.monotonic() - drain:.0f} s after the run.",
        "",
    ]
    for s in services.values():
        total = s.total()
        lines += [
            f"### {s.name}: {per} clients, each operation {s.what}",
            "",
            f"- operations completed: {s.operations:,} ({s.operations / elapsed:,.1f}/s); "
            f"requests: {sum(total.statuses.values()):,}",
            f"- answers: {total.answers_text()}; shed (503) then retried: {s.retried:,}",
            f"- latency of every answer: {total.latency_text()}",
            *(f"  - {label}: {t.latency_text()}" for label, t in s.tallies.items()),
            f"- server RSS: {memory.text(s.name)}",
            f"- errors: {total.errors_text()}",
            "",
        ]
    return list(services.values()), lines


async def services_load(folder: Path) -> list[str]:
    """``SOCLE_BENCH_LOAD_CLIENTS`` (200) concurrent clients for ``SOCLE_BENCH_LOAD_SECONDS``
    (60 s), a quarter on each of identity, payment, storage and notify, on the platform as
    ``make run`` starts it (each service one process on SQLite, NATS, SeaweedFS, the mail
    sink; local addresses only). Notify's e-mail rate limit is lifted
    (``SOCLE_EMAIL_RATE_PER_MINUTE=0``: the default, 600 a minute per tenant, would refuse
    most of the mails with 429); services log at WARNING."""
    clients = int(os.environ.get("SOCLE_BENCH_LOAD_CLIENTS", 200))
    seconds = float(os.environ.get("SOCLE_BENCH_LOAD_SECONDS", 60))
    load_at_start, section = os.getloadavg()[0], time.monotonic()
    env = {"SOCLE_EMAIL_RATE_PER_MINUTE": "0", "SOCLE_LOG_LEVEL": "WARNING"}
    with platform(folder / "load-platform", env) as stack:
        services, figures = await _load(stack, clients, seconds)
    errors = sum(sum(s.total().errors.values()) for s in services)
    return [
        "## Load across the services",
        "",
        " ".join((services_load.__doc__ or "").split()),
        _RULES,
        "",
        f"Errors: {errors:,} (target 0). Load average (1 min) {load_at_start:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end. The section took "
        f"{time.monotonic() - section:.0f} s, platform start-up included.",
        "",
        *figures,
    ]


_RULES = (
    "Clients behave as good clients: a 503 is waited out (its Retry-After) and the same "
    "request sent again with the same Idempotency-Key, so a shed request that then succeeds "
    "is not an error. Errors: any other answer than the one expected (a 5xx other than 503 "
    "first), connection errors, client timeouts (30 s), and requests still refused 60 s after "
    "the run's end."
)


if __name__ == "__main__":
    import tempfile

    async def _main() -> None:
        with tempfile.TemporaryDirectory(prefix="socle-load-") as tmp:
            print("\n".join(await services_load(Path(tmp))), flush=True)

    asyncio.run(_main())
