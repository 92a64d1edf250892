"""``serve`` starts while NATS is unreachable: the service answers, reports the bus, and says
so in its logs, which are one JSON line per record (its own, uvicorn's, every library's),
starting with one line giving its version and settings without secrets."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time

import httpx
import structlog

from socle.telemetry import RateLimitRepeats
from socle_dev.localinfra import free_port

STRIPE_SECRET = "sk_test_never_in_logs_0123456789"


def test_serve_starts_and_is_ready_while_nats_is_unreachable(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "SOCLE_NATS_URL": "nats://127.0.0.1:1",
        "SOCLE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/payment.db",
        "SOCLE_PAYMENT_STRIPE_SECRET_KEY": STRIPE_SECRET,
        "SOCLE_PAYMENT_STRIPE_WEBHOOK_SECRET": "whsec_never_in_logs",
    }
    migrated = subprocess.run(
        [sys.executable, "-m", "socle_payment", "migrate"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "socle_payment", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert ready is not None, "serve exited or never answered"
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["bus"].startswith("down")
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    records = [json.loads(line) for line in err.splitlines() if line.strip()]  # all JSON
    events = [r["event"] for r in records]
    (start,) = [r for r in records if r["event"] == "service_starting"]
    assert start["service"] == "payment" and start["version"]
    assert start["settings"]["nats_url"] == "nats://127.0.0.1:1"
    assert "bus_unavailable_at_start" in events
    assert STRIPE_SECRET not in err and "whsec_never_in_logs" not in err
    assert all({"level", "timestamp", "service"} <= r.keys() for r in records), records


def test_a_retry_warning_repeated_during_an_outage_is_logged_once_a_minute():
    now = [0.0]
    limit = RateLimitRepeats(frozenset({"bus_error"}), window=60.0, clock=lambda: now[0])
    kept = []
    for second in range(0, 150, 1):
        now[0] = float(second)
        for event in ("bus_error", "payment_created"):
            with contextlib.suppress(structlog.DropEvent):
                kept.append((second, dict(limit(None, "warning", {"event": event}))))
    bus = [(second, record) for second, record in kept if record["event"] == "bus_error"]
    assert [second for second, _ in bus] == [0, 60, 120]
    assert [record.get("repeats_not_logged") for _, record in bus] == [None, 59, 59]
    assert sum(1 for _, r in kept if r["event"] == "payment_created") == 150
