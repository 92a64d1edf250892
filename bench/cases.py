"""The benchmark cases: each returns (name, ours, peer, unit, our rate, peer rate)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from socle.auth import JWKSCache, TokenVerifier
from socle.bus import Bus
from socle.db import create_engine, create_sessionmaker, infra_metadata
from socle.events import CloudEvent
from socle.localinfra import NatsServer, free_port
from socle.outbox import OutboxRelay, record_event
from socle.testing import TestIssuer

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


ALL = [token_verification, outbox_publishing]
