"""How cost grows with tenants and registered clients: ``python -m bench.growth`` alone, or
as a section of ``make bench``'s report.

- Tokens: identity with 10,000 registered clients spread over 1, 10 and 100 tenants (and one
  client alone for reference, as in the token row), on SQLite and on PostgreSQL. wrk (16
  connections) names the clients in turn, so the token endpoint's client cache is exercised
  across all of them and its misses show. The servers run side by side
  and wrk alternates between them in slices, as in the token row.
- Events: the events row's outbox, relay and consumer (bench/events.py), the events spread
  over 1, 10 and 100 tenants.

Tenants and clients are inserted in bulk before the measurement, not timed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert

from bench import events
from bench.cases import ROUNDS, SLICE_SECONDS, _wrk_rate, _wrk_script, postgres
from socle.db import create_engine
from socle_dev.localinfra import ManagedProcess, NatsServer, free_port, wait_for_port
from socle_identity.models import Client, Tenant
from socle_identity.passwords import digest

TENANTS = (1, 10, 100)
CLIENTS = 10_000
SHAPES = ((1, 1), *((tenants, CLIENTS) for tenants in TENANTS))
"""(tenants, clients) of each identity measured; the first is the token row's setup."""

WRK_ROTATING = """
local creds = {%s}
local count = #creds
local body = "grant_type=client_credentials&scope=payments:read"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("first", threads)
end
function init(args)
  at = (first - 1) * math.floor(count / 2)
end
function request()
  at = at %% count + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = creds[at],
  }, body)
end
"""
"""Each of wrk's two threads names the clients in turn, one after the other (the second
starting halfway through the list): every client asks as often as every other."""
WARM_SECONDS = 6
WARM_CONNECTIONS = 128
"""Each identity's warm-up, so that every client has asked before the measurement (the
clients an identity has not seen yet are read together, as many as requests wait; its
in-flight limit is raised above these connections for it)."""


def tenant_names(count: int) -> list[str]:
    return [f"commune-{n:03d}" for n in range(count)]


async def populate(database_url: str, tenants: int, clients: int) -> list[tuple[str, str]]:
    """``tenants`` communes and ``clients`` client-credentials clients spread over them, in
    one transaction (the schema already migrated): each client's id and secret."""
    names = tenant_names(tenants)
    credentials = [
        (f"{names[n % tenants]}-app-{n:05d}", secrets.token_urlsafe(32)) for n in range(clients)
    ]
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(Tenant), [{"slug": t, "name": t} for t in names])
            await conn.execute(
                insert(Client),
                [
                    {
                        "client_id": client_id,
                        "tenant": names[n % tenants],
                        "name": client_id,
                        "public": False,
                        "secret_hash": digest(secret),
                        "token_endpoint_auth_method": "client_secret_basic",
                        "redirect_uris": [],
                        "post_logout_redirect_uris": [],
                        "scopes": ["payments:read"],
                        "grant_types": ["client_credentials"],
                        "roles": [],
                    }
                    for n, (client_id, secret) in enumerate(credentials)
                ],
            )
    finally:
        await engine.dispose()
    return credentials


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    shape: tuple[int, int]
    url: str
    script: Path
    process: ManagedProcess
    rates: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    """CPU time of the identity process per token, each slice."""

    def measure(self, seconds: int) -> None:
        assert self.process.proc is not None
        cpu = cpu_seconds(self.process.proc.pid)
        rate = _wrk_rate(self.url, self.script, seconds)
        used = cpu_seconds(self.process.proc.pid) - cpu
        self.rates.append(rate)
        self.cpu_ms.append(1000 * used / (rate * seconds))


def _alternate(servers: Sequence[Server]) -> None:
    """Each server warmed up WARM_SECONDS, then ROUNDS slices of SLICE_SECONDS each in turn."""
    for server in servers:
        _wrk_rate(server.url, server.script, WARM_SECONDS, WARM_CONNECTIONS)
    for _ in range(ROUNDS):
        for server in servers:
            server.measure(SLICE_SECONDS)


async def tokens(folder: Path, database_urls: Sequence[str]) -> list[Server]:
    """One identity per URL of ``database_urls`` (one for each of SHAPES), measured side by
    side."""
    nats = NatsServer.create(folder / f"nats-{free_port()}", free_port())
    nats.start()
    python = [sys.executable, "-m", "socle_identity"]
    servers: list[Server] = []
    try:
        for shape, database_url in zip(SHAPES, database_urls, strict=True):
            port = free_port()
            env = dict(
                os.environ,
                SOCLE_DATABASE_URL=database_url,
                SOCLE_NATS_URL=nats.url,
                SOCLE_ISSUER=f"http://127.0.0.1:{port}",
                SOCLE_MAX_REQUESTS_IN_FLIGHT=str(2 * WARM_CONNECTIONS),
            )
            await asyncio.to_thread(
                subprocess.run, [*python, "migrate"], env=env, check=True, capture_output=True
            )
            credentials = await populate(database_url, *shape)
            basics = (
                base64.b64encode(f"{client_id}:{secret}".encode()).decode()
                for client_id, secret in credentials
            )
            script = _wrk_script(
                folder, WRK_ROTATING % ",".join(json.dumps(f"Basic {b}") for b in basics)
            )
            process = ManagedProcess([*python, "serve", "--port", str(port)], env=env)
            servers.append(Server(shape, f"http://127.0.0.1:{port}/token", script, process))
            process.start()
            wait_for_port(port, 60, proc=process.proc)
        await asyncio.to_thread(_alternate, servers)
    finally:
        for server in servers:
            server.process.stop()
        nats.stop()
    return servers


@dataclass
class EventRun:
    tenants: int
    rate: float
    p99_ms: float
    cpu_ms: float


async def events_over_tenants(folder: Path) -> list[EventRun]:
    """The events row's burst and paced run (ours only) for each of TENANTS, on a NATS
    server of its own each."""
    runs = []
    for count in TENANTS:
        where = folder / f"events-{count}-{free_port()}"
        where.mkdir()
        server = NatsServer.create(where / "nats", free_port())
        server.start()
        try:
            rate, _p50, p99 = await events._ours(where, server.url, tenant_names(count))
        finally:
            server.stop()
        runs.append(EventRun(count, rate, p99, events.CPU_MS["ours"]))
    return runs


def _median(values: Sequence[float]) -> float:
    return sorted(values)[len(values) // 2]


def report(
    sqlite: Sequence[Server], pg: Sequence[Server], event_runs: Sequence[EventRun], load: str
) -> list[str]:
    def tokens_cell(servers: Sequence[Server], i: int) -> tuple[str, str]:
        base = _median(servers[1].rates)  # 1 tenant, 10,000 clients
        rate = _median(servers[i].rates)
        cell = f"{rate:,.0f} ({_median(servers[i].cpu_ms):.2f} ms)"
        return cell, f"{rate / base:.2f}"

    lines = [
        "### How cost grows with tenants and clients (bench/growth.py)",
        "",
        "Tokens: wrk, 16 connections, the registered clients asking in turn; the identities "
        f"side by side, each warmed up {WARM_SECONDS} s ({WARM_CONNECTIONS} connections), then "
        "wrk alternating between them "
        f"({ROUNDS} slices of {SLICE_SECONDS} s each, median shown, with the identity "
        "process's CPU time per token). Events: the events row's outbox, relay and consumer, "
        "events spread over the tenants (burst of "
        f"{events.BURST:,}, p99 at {events.PACED_RATE:,.0f}/s, CPU of the bench process per "
        f"event). x = against 1 tenant with {CLIENTS:,} clients. {load}",
        "",
        "| tenants x clients | tokens/s SQLite (CPU/token) | x | tokens/s PostgreSQL "
        "(CPU/token) | x | events/s (p99; CPU/event) | x |",
        "|---|---|---|---|---|---|---|",
    ]
    by_tenants = {run.tenants: run for run in event_runs}
    base_events = by_tenants[1].rate
    for i, (tenants, clients) in enumerate(SHAPES):
        cells = [f"{tenants} x {clients:,}"]
        for servers in (sqlite, pg):
            cells += tokens_cell(servers, i) if servers else ["not measured", ""]
        run = by_tenants.get(tenants) if clients == CLIENTS else None
        if run is None:
            cells += ["", ""]
        else:
            cells += [
                f"{run.rate:,.0f} ({run.p99_ms:,.0f} ms; {run.cpu_ms:.2f} ms)",
                f"{run.rate / base_events:.2f}",
            ]
        lines.append(f"| {' | '.join(cells)} |")
    return lines


async def growth(folder: Path) -> list[str]:
    """The section's lines (markdown), printed as they come."""
    start = time.monotonic()
    load_before = os.getloadavg()[0]
    files = [f"sqlite+aiosqlite:///{folder}/growth-{n}.db" for n in range(len(SHAPES))]
    sqlite = await tokens(folder, files)
    names = [f"growth{n}" for n in range(len(SHAPES))]
    async with postgres(folder, *names) as urls:
        pg = await tokens(folder, urls)
    event_runs = await events_over_tenants(folder)
    load = (
        f"Load average (1 min) {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at "
        f"the end; {time.monotonic() - start:.0f} s in all."
    )
    lines = report(sqlite, pg, event_runs, load)
    print("\n".join(lines), flush=True)
    return lines


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="socle-growth-") as tmp:
        asyncio.run(growth(Path(tmp)))
