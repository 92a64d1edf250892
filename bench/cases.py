"""The benchmark cases: each returns (name, ours, peer, unit, our rate, peer rate)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

from bench.events import events_end_to_end
from bench.notify_cases import emails, webhooks
from socle.auth import JWKSCache, TokenVerifier
from socle.bus import Bus
from socle.db import create_engine, create_sessionmaker, infra_metadata
from socle.events import CloudEvent
from socle.outbox import OutboxRelay, record_event
from socle_dev.localinfra import NatsServer, free_port
from socle_dev.testing import TestIssuer

NPM_PEERS = ["jose@5", "oidc-provider@9"]
Case = tuple[str, str, str, str, float, float]

JOSE_VERIFY = """
const jose = require('jose');
const fs = require('fs');
(async () => {
  const input = JSON.parse(fs.readFileSync(process.argv[2]));
  const jwks = jose.createLocalJWKSet(input.jwks);
  const start = process.hrtime.bigint();
  for (const token of input.tokens) {
    await jose.jwtVerify(token, jwks, {issuer: input.issuer, audience: input.audience,
                                       algorithms: ['ES256'], typ: 'at+jwt'});
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(JSON.stringify({rate: input.tokens.length / seconds}));
})();
"""


async def token_verification(folder: Path) -> Case:
    """Access tokens verified per second, one core, sequential: socle.auth (PyJWT +
    cryptography, all claims checked) against jose's jwtVerify in Node with a local JWKS."""
    issuer = TestIssuer("https://identity.bench")
    issuer.start()
    try:
        tokens = [
            issuer.token(audience="socle-payment", scopes=["payments:read"]) for _ in range(3000)
        ]
        verifier = TokenVerifier(
            issuer=issuer.issuer, audience="socle-payment", jwks=JWKSCache(issuer.jwks_url)
        )
        await verifier.verify(tokens[0])  # warm the key cache
        start = time.perf_counter()
        for token in tokens:
            await verifier.verify(token)
        ours = len(tokens) / (time.perf_counter() - start)
        data = folder / "verify.json"
        data.write_text(
            json.dumps(
                {
                    "jwks": issuer.jwks,
                    "tokens": tokens,
                    "issuer": issuer.issuer,
                    "audience": "socle-payment",
                }
            )
        )
        script = folder / "verify.js"
        script.write_text(JOSE_VERIFY)
        out = subprocess.run(
            ["node", str(script), str(data)], capture_output=True, text=True, check=True, cwd=folder
        ).stdout
        peer = float(json.loads(out)["rate"])
    finally:
        issuer.stop()
    return ("ES256 access-token verification", "socle.auth", "jose (Node)", "tokens/s", ours, peer)


async def outbox_publishing(folder: Path) -> Case:
    """Events per second reaching JetStream (acknowledged): written through the outbox
    (one SQLite transaction per event, then the relay) against nats-py publishing directly,
    without durability before the bus. The ratio is the price of not losing events."""
    nats = NatsServer.create(folder / "nats", free_port())
    nats.start()
    engine = create_engine(f"sqlite+aiosqlite:///{folder}/outbox.db")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(infra_metadata.create_all)
        sessions = create_sessionmaker(engine)
        bus = Bus(url=nats.url)
        await bus.connect()
        count = 2000

        def event(i: int, tenant: str) -> CloudEvent:
            return CloudEvent.new(service="bench", type="bench.done", tenant=tenant, data={"i": i})

        start = time.perf_counter()
        for i in range(count):
            ev = event(i, "direct")
            await bus.publish(ev.nats_subject, ev.to_bytes(), ev.id)
        peer = count / (time.perf_counter() - start)

        relay = OutboxRelay(sessions, bus)
        start = time.perf_counter()
        for i in range(count):
            async with sessions() as session, session.begin():
                await record_event(session, event(i, "outbox"), aggregate="bench")
        while await relay.relay_once():
            pass
        ours = count / (time.perf_counter() - start)
        await bus.close()
    finally:
        await engine.dispose()
        nats.stop()
    return (
        "event publishing (commit + publish + ack)",
        "outbox + relay",
        "direct nats-py",
        "events/s",
        ours,
        peer,
    )


OIDC_PROVIDER = """
const { default: Provider } = require('oidc-provider');
const port = Number(process.argv[2]);
const secret = process.argv[3];
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{ client_id: 'bench', client_secret: secret, grant_types: ['client_credentials'],
              response_types: [], redirect_uris: [], scope: 'payments:read',
              id_token_signed_response_alg: 'ES256' }],
  scopes: ['payments:read'],
  features: {
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:socle:payment',
      getResourceServerInfo: () => ({ scope: 'payments:read', audience: 'urn:socle:payment',
        accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
    },
  },
  jwks: { keys: [JSON.parse(process.argv[4])] },
});
provider.listen(port, '127.0.0.1', () => console.log('ready'));
"""

WRK_POST = """
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=payments:read"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic %s"
"""


ROUNDS = 3
SLICE_SECONDS = 4
"""A pair's two servers run side by side and wrk alternates between them, ROUNDS slices of
SLICE_SECONDS each (after a 2 s warm-up of each): the machine's load, which moves within
seconds here, falls on both alike."""


def _wrk_script(folder: Path, text: str) -> Path:
    script = folder / f"wrk-{free_port()}.lua"
    script.write_text(text)
    return script


def _wrk_rate(url: str, script: Path, seconds: int, connections: int = 16) -> float:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{url} answered errors under load:\n{out}")
    return float(out.split("Requests/sec:")[1].split()[0])


def _alternate(ours: tuple[str, Path], peer: tuple[str, Path]) -> tuple[float, float]:
    """Requests/s of each side, measured in alternating slices (see ROUNDS)."""
    for url, script in (ours, peer):
        _wrk_rate(url, script, 2)  # warm-up
    rates: tuple[list[float], list[float]] = ([], [])
    for _ in range(ROUNDS):
        for side, (url, script) in enumerate((ours, peer)):
            rates[side].append(_wrk_rate(url, script, SLICE_SECONDS))
    return sum(rates[0]) / ROUNDS, sum(rates[1]) / ROUNDS


async def token_issuance_sqlite(folder: Path) -> Case:
    """Client-credentials access tokens (ES256 JWT) issued per second over HTTP, one process
    each, wrk with 16 connections alternating between the two servers (3 slices of 4 s each
    after a 2 s warm-up): Socle identity (uvicorn with
    uvloop and httptools, on SQLite as in make run; the client and the active key kept in
    memory for `SOCLE_CACHE_SECONDS`, so a warm request runs no SQL; no OTLP exporter, as in
    make run) against node oidc-provider with JWT access tokens (clients in memory, its
    quick-start adapter)."""
    url = f"sqlite+aiosqlite:///{folder}/identity.db"
    return await _token_issuance(folder, url, "socle identity (SQLite)")


@contextlib.asynccontextmanager
async def postgres(folder: Path, *databases: str) -> AsyncIterator[list[str]]:
    """A PostgreSQL server (pgserver, unix socket) for the time of the block, with each of
    ``databases`` new and empty (dropped first when a previous run of the same ``folder``
    left it): their asyncpg URLs."""
    import pgserver
    from sqlalchemy.engine import make_url

    server = await asyncio.to_thread(
        pgserver.get_server,  # type: ignore[attr-defined]
        folder / "pg",
        cleanup_mode="stop",
    )
    try:
        script = "\\set ON_ERROR_STOP on\n" + "".join(
            f"DROP DATABASE IF EXISTS {name} WITH (FORCE);\nCREATE DATABASE {name};\n"
            for name in databases
        )
        await asyncio.to_thread(server.psql, script)
        base = make_url(server.get_uri()).set(drivername="postgresql+asyncpg")
        yield [base.set(database=name).render_as_string(hide_password=False) for name in databases]
    finally:
        await asyncio.to_thread(server.cleanup)


async def token_issuance_postgres(folder: Path) -> Case:
    """The same, with identity on PostgreSQL (pgserver, unix socket), as in production; the
    same cache, so the database is read only when an entry expires. Each run starts from a
    new database."""
    async with postgres(folder, "identity") as (url,):
        return await _token_issuance(folder, url, "socle identity (PostgreSQL)")


async def _token_issuance(folder: Path, database_url: str, label: str) -> Case:
    import base64
    import os
    import sys

    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    from socle_dev.localinfra import ManagedProcess, wait_for_port

    nats = NatsServer.create(folder / f"nats-{free_port()}", free_port())
    nats.start()
    port, peer_port = free_port(), free_port()
    env = dict(
        os.environ,
        SOCLE_DATABASE_URL=database_url,
        SOCLE_NATS_URL=nats.url,
        SOCLE_ISSUER=f"http://127.0.0.1:{port}",
    )
    python = [sys.executable, "-m", "socle_identity"]
    ours_proc = ManagedProcess([*python, "serve", "--port", str(port)], env=env)
    peer_proc: ManagedProcess | None = None
    try:
        await asyncio.to_thread(subprocess.run, [*python, "migrate"], env=env, check=True)
        await asyncio.to_thread(
            subprocess.run,
            [*python, "seed-demo", "--output", str(folder / "demo.json")],
            env=env,
            check=True,
            capture_output=True,
        )
        client = json.loads((folder / "demo.json").read_text())["client"]
        ours_proc.start()
        wait_for_port(port, 60, proc=ours_proc.proc)
        key = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1())))
        key.update({"kid": "bench", "alg": "ES256", "use": "sig"})
        script = folder / "provider.js"
        script.write_text(OIDC_PROVIDER)
        secret = base64.urlsafe_b64encode(os.urandom(32)).decode()
        peer_proc = ManagedProcess(["node", str(script), str(peer_port), secret, json.dumps(key)])
        peer_proc.start()
        wait_for_port(peer_port, 60, proc=peer_proc.proc)

        def post(basic: str) -> Path:
            return _wrk_script(folder, WRK_POST % base64.b64encode(basic.encode()).decode())

        ours, peer = await asyncio.to_thread(
            _alternate,
            (
                f"http://127.0.0.1:{port}/token",
                post(f"{client['client_id']}:{client['client_secret']}"),
            ),
            (f"http://127.0.0.1:{peer_port}/token", post(f"bench:{secret}")),
        )
    finally:
        ours_proc.stop()
        if peer_proc is not None:
            peer_proc.stop()
        nats.stop()
    return (
        "client-credentials token issuance (HTTP, 16 connections)",
        label,
        "node oidc-provider",
        "tokens/s",
        ours,
        peer,
    )


WRK_GET = """
wrk.headers["Authorization"] = "Bearer %s"
"""


async def protected_get(folder: Path) -> Case:
    """Payment `GET /v1/payments/{id}` of a settled payment over HTTP, wrk with 16
    connections alternating between the two processes (3 slices of 4 s each after a 2 s
    warm-up), one uvicorn process each on SQLite: with its access
    token (ES256 signature checked on first use and remembered until the token expires;
    expiry, deny list, scope and tenant on every request) against the same route, same
    process code and same row with the token check replaced by a fixed principal
    (bench/payment_server.py --no-auth)."""
    import os
    import sqlite3
    import sys

    import httpx

    from socle_dev.localinfra import ManagedProcess, wait_for_port

    issuer = TestIssuer("https://identity.bench")
    issuer.start()
    nats = NatsServer.create(folder / f"nats-{free_port()}", free_port())
    nats.start()
    db = folder / "payment.db"
    port, bare_port = free_port(), free_port()
    env = dict(
        os.environ,
        SOCLE_DATABASE_URL=f"sqlite+aiosqlite:///{db}",
        SOCLE_NATS_URL=nats.url,
        SOCLE_ISSUER=issuer.issuer,
        SOCLE_JWKS_URL=issuer.jwks_url,
    )
    server = [sys.executable, str(Path(__file__).with_name("payment_server.py"))]
    procs = [
        ManagedProcess([*server, str(port)], env=env),
        ManagedProcess([*server, str(bare_port), "--no-auth"], env=env),
    ]
    try:
        await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "socle_payment", "migrate"], env=env, check=True
        )
        procs[0].start()
        wait_for_port(port, 60, proc=procs[0].proc)
        writer = issuer.token(
            audience="socle-payment",
            tenant="bench",
            subject="bench",
            client_id="bench",
            roles=[],
            scopes=["payments:write", "payments:read"],
            lifetime=3600,
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            created = await http.post(
                "/v1/payments",
                json={
                    "amount": 5000,
                    "currency": "CHF",
                    "reference": "bench-1",
                    "description": "Bench",
                    "return_url": "https://commune.example/back",
                    "provider": "sandbox",
                },
                headers={"Authorization": f"Bearer {writer}", "Idempotency-Key": "bench-1"},
            )
            created.raise_for_status()
        payment_id = created.json()["id"]
        with sqlite3.connect(db) as conn:  # settled: a GET does not ask the provider
            conn.execute("UPDATE payments SET status = 'succeeded' WHERE id = ?", (payment_id,))
        reader = issuer.token(
            audience="socle-payment",
            tenant="bench",
            subject="bench",
            client_id="bench",
            roles=[],
            scopes=["payments:read"],
            lifetime=3600,
        )
        path = f"/v1/payments/{payment_id}"
        procs[1].start()
        wait_for_port(bare_port, 60, proc=procs[1].proc)
        ours, peer = await asyncio.to_thread(
            _alternate,
            (f"http://127.0.0.1:{port}{path}", _wrk_script(folder, WRK_GET % reader)),
            (f"http://127.0.0.1:{bare_port}{path}", _wrk_script(folder, WRK_GET % "none")),
        )
    finally:
        for proc in procs:
            proc.stop()
        nats.stop()
        issuer.stop()
    return (
        "protected GET /v1/payments/{id} (HTTP, 16 connections)",
        "with its access token",
        "same route without auth",
        "requests/s",
        ours,
        peer,
    )


ALL = [
    token_verification,
    outbox_publishing,
    token_issuance_sqlite,
    token_issuance_postgres,
    protected_get,
    events_end_to_end,
    emails,
    webhooks,
]
