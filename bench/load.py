"""Load and soak figures (not ratios, not asserted): many concurrent clients on identity,
payment, storage and notify of the platform as ``make run`` starts it (bench/services_load.py),
then clients creating payments against ``socle_payment serve`` on PostgreSQL, as an operator
would run it: a soak, and the load from wrk.

Printed by ``make bench`` (appended to docs/benchmarks.md) or alone with
``python -m bench.load``. For each phase: requests answered, answers by status (and
connection errors or client timeouts), latency p50/p95/p99 and the server's resident memory
(RSS) at the start, at its highest and at the end. Durations and client counts come from
``SOCLE_BENCH_LOAD_CLIENTS`` / ``SOCLE_BENCH_LOAD_SECONDS`` (200 clients, 60 s) and
``SOCLE_BENCH_SOAK_CLIENTS`` / ``SOCLE_BENCH_SOAK_SECONDS`` (20 clients, 120 s).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.services_load import payment_body, services_load  # noqa: E402
from socle_dev.localinfra import ManagedProcess, NatsServer, free_port, wait_for_port  # noqa: E402
from socle_dev.testing import TestIssuer  # noqa: E402

CLIENT_TIMEOUT_SECONDS = 30.0


@dataclass
class Phase:
    name: str
    clients: int
    seconds: float
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    admitted: dict[float, float] = field(default_factory=dict)
    """The server's own histogram of admitted ``POST /v1/payments`` over the phase: upper
    bound of each bucket (s) -> requests at or below it."""

    def admitted_percentile(self, share: float) -> str:
        """The bucket bound (ms) under which ``share`` of the admitted requests finished."""
        total = max(self.admitted.values(), default=0.0)
        for bound, count in sorted(self.admitted.items()):
            if total and count >= share * total:
                return "≤ " + (f"{bound * 1000:,.0f} ms" if bound != float("inf") else "∞")
        return "n/a"

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000

    def lines(self) -> list[str]:
        total = sum(self.statuses.values())
        by_status = ", ".join(f"{k}: {v:,}" for k, v in sorted(self.statuses.items()))
        rss = self.rss_mib or [float("nan")]
        return [
            f"### {self.name}: {self.clients} concurrent clients for {self.seconds:.0f} s",
            "",
            f"- requests: {total:,} ({total / max(self.elapsed, 1e-9):,.0f}/s)",
            f"- answers: {by_status}",
            f"- latency: p50 {self.percentile(0.50):,.0f} ms, p95 {self.percentile(0.95):,.0f} ms, "
            f"p99 {self.percentile(0.99):,.0f} ms",
            f"- admitted requests as the server timed them (its histogram, request in to "
            f"response out): {max(self.admitted.values(), default=0):,.0f}, p50 "
            f"{self.admitted_percentile(0.50)}, p95 {self.admitted_percentile(0.95)}, p99 "
            f"{self.admitted_percentile(0.99)}",
            f"- server RSS: {rss[0]:,.0f} MiB at start, {max(rss):,.0f} MiB at most, "
            f"{rss[-1]:,.0f} MiB at end",
            "",
        ]


async def _histogram(http: httpx.AsyncClient) -> dict[float, float]:
    """The server's cumulative latency buckets of ``POST /v1/payments`` (from /metrics)."""
    buckets: dict[float, float] = {}
    for line in (await http.get("/metrics")).text.splitlines():
        if (
            line.startswith("http_request_duration_seconds_bucket")
            and 'method="POST"' in line
            and 'route="/v1/payments"' in line
        ):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(bound)] = float(line.rsplit(" ", 1)[1])
    return buckets


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _client(http: httpx.AsyncClient, token: str, phase: Phase, until: float) -> None:
    while time.monotonic() < until:
        key = uuid.uuid4().hex
        started = time.monotonic()
        try:
            response = await http.post(
                "/v1/payments",
                json=payment_body(key),
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
            )
        except httpx.TimeoutException:
            phase.statuses["client timeout"] += 1
            continue
        except httpx.HTTPError as exc:
            phase.statuses[f"connection error ({exc.__class__.__name__})"] += 1
            await asyncio.sleep(0.05)
            continue
        phase.latencies.append(time.monotonic() - started)
        phase.statuses[str(response.status_code)] += 1
        if response.status_code == 503:  # as a well-behaved client: wait as told, briefly
            await asyncio.sleep(min(float(response.headers.get("retry-after", "1")), 1.0) / 10)


async def _run_phase(base_url: str, token: str, pid: int, phase: Phase) -> None:
    limits = httpx.Limits(max_connections=phase.clients, max_keepalive_connections=phase.clients)
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=CLIENT_TIMEOUT_SECONDS
    ) as http:
        phase.rss_mib.append(_rss_mib(pid))
        before = await _histogram(http)
        started = time.monotonic()
        until = started + phase.seconds
        clients = [
            asyncio.create_task(_client(http, token, phase, until)) for _ in range(phase.clients)
        ]
        while not all(c.done() for c in clients):
            await asyncio.wait(clients, timeout=2.0)
            phase.rss_mib.append(_rss_mib(pid))
        phase.elapsed = time.monotonic() - started
        for c in clients:
            c.result()
        after = await _histogram(http)
        phase.admitted = {b: n - before.get(b, 0.0) for b, n in after.items()}


WRK_CREATE = """
local n = 0
request = function()
  n = n + 1
  wrk.headers["Idempotency-Key"] = string.format("wrk-%%d-%%d", math.random(1, 1000000000), n)
  return wrk.format("POST", "/v1/payments")
end
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
wrk.body = '{"amount": 5000, "currency": "CHF", "reference": "wrk", "description": "Load", '
  .. '"return_url": "https://commune.example/back", "provider": "sandbox"}'
"""


async def _wrk_phase(base_url: str, token: str, pid: int, phase: Phase, folder: Path) -> list[str]:
    """The same load from wrk, a C client in its own process: the latencies of a client
    that costs the machine almost nothing (wrk does not wait on Retry-After)."""
    script = folder / "create.lua"
    script.write_text(WRK_CREATE % token)
    async with httpx.AsyncClient(base_url=base_url) as http:
        before = await _histogram(http)
        rss = _rss_mib(pid)
        out = (
            await asyncio.to_thread(
                subprocess.run,
                [
                    "wrk",
                    "-t2",
                    f"-c{phase.clients}",
                    f"-d{phase.seconds:.0f}s",
                    f"--timeout={CLIENT_TIMEOUT_SECONDS:.0f}s",
                    "--latency",
                    "-s",
                    str(script),
                    base_url,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
        ).stdout
        after = await _histogram(http)
    phase.admitted = {b: n - before.get(b, 0.0) for b, n in after.items()}
    percentiles = {
        line.split()[0]: line.split()[1]
        for line in out.splitlines()
        if line.strip()[:3] in ("50%", "90%", "99%")
    }
    requests = out.split(" requests in ")[0].split()[-1]
    admitted = max(phase.admitted.values(), default=0.0)
    refused = out.split("Non-2xx or 3xx responses:")[1].split()[0] if "Non-2xx" in out else "0"
    errors = (
        out.split("Socket errors:")[1].splitlines()[0].strip() if "Socket errors" in out else "none"
    )
    return [
        f"### {phase.name}: {phase.clients} connections for {phase.seconds:.0f} s from wrk",
        "",
        f"- requests: {requests}, of which not 2xx (503 shed): {refused}; socket errors: {errors}",
        f"- latency (every answer, 503s included): p50 {percentiles.get('50%')}, "
        f"p90 {percentiles.get('90%')}, p99 {percentiles.get('99%')}",
        f"- admitted requests as the server timed them: {admitted:,.0f}, "
        f"p50 {phase.admitted_percentile(0.50)}, p95 {phase.admitted_percentile(0.95)}, "
        f"p99 {phase.admitted_percentile(0.99)}",
        f"- server RSS: {rss:,.0f} MiB at start, {_rss_mib(pid):,.0f} MiB at end",
        "",
    ]


def _setting(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


async def payment_load(folder: Path) -> list[str]:
    """``POST /v1/payments`` (each with its own Idempotency-Key) by concurrent clients on one
    ``socle_payment serve`` process on PostgreSQL (pgserver, unix socket) with the default
    pool and in-flight limit: a soak at low concurrency, then the load's clients from wrk
    (the httpx clients of the load run across the services, above)."""
    import pgserver
    from sqlalchemy.engine import make_url

    load = Phase(
        "load",
        _setting("SOCLE_BENCH_LOAD_CLIENTS", 200),
        _setting("SOCLE_BENCH_LOAD_SECONDS", 60),
    )
    phases = [
        Phase(
            "soak",
            _setting("SOCLE_BENCH_SOAK_CLIENTS", 20),
            _setting("SOCLE_BENCH_SOAK_SECONDS", 120),
        ),
    ]
    server = await asyncio.to_thread(
        pgserver.get_server,  # type: ignore[attr-defined]
        folder / "pg-load",
        cleanup_mode="stop",
    )
    issuer = TestIssuer("https://identity.bench")
    issuer.start()
    nats = NatsServer.create(folder / f"nats-{free_port()}", free_port())
    nats.start()
    port = free_port()
    proc: ManagedProcess | None = None
    wrk_lines: list[str] = []
    try:
        await asyncio.to_thread(server.psql, "CREATE DATABASE payment_load;")
        url = make_url(server.get_uri()).set(
            drivername="postgresql+asyncpg", database="payment_load"
        )
        env = dict(
            os.environ,
            SOCLE_DATABASE_URL=url.render_as_string(hide_password=False),
            SOCLE_NATS_URL=nats.url,
            SOCLE_ISSUER=issuer.issuer,
            SOCLE_JWKS_URL=issuer.jwks_url,
            SOCLE_LOG_LEVEL="WARNING",
        )
        python = [sys.executable, "-m", "socle_payment"]
        await asyncio.to_thread(subprocess.run, [*python, "migrate"], env=env, check=True)
        proc = ManagedProcess([*python, "serve", "--port", str(port)], env=env)
        proc.start()
        assert proc.proc is not None
        wait_for_port(port, 60, proc=proc.proc)
        token = issuer.token(
            audience="socle-payment",
            tenant="bench",
            subject="bench",
            client_id="bench",
            roles=[],
            scopes=["payments:write", "payments:read"],
            lifetime=3600,
        )
        for phase in phases:
            await _run_phase(f"http://127.0.0.1:{port}", token, proc.proc.pid, phase)
        if shutil.which("wrk"):
            wrk_lines = await _wrk_phase(
                f"http://127.0.0.1:{port}",
                token,
                proc.proc.pid,
                load,
                folder,
            )
    finally:
        if proc is not None:
            proc.stop()
        nats.stop()
        issuer.stop()
        await asyncio.to_thread(server.cleanup)
    lines = [
        "## Soak and wrk load (payment on PostgreSQL)",
        "",
        " ".join((payment_load.__doc__ or "").split()),
        "Figures, not targets: 503 answers (with Retry-After) are the service shedding load "
        "as designed; 500s or connection errors are not.",
        "",
    ]
    for phase in phases:
        lines += phase.lines()
    return lines + wrk_lines


ALL = [services_load, payment_load]


async def main() -> int:
    with tempfile.TemporaryDirectory(prefix="socle-load-") as tmp:
        for case in ALL:
            print("\n".join(await case(Path(tmp))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
