"""``serve`` starts while NATS is unreachable: the service answers and reports the bus."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from socle.localinfra import free_port


def test_serve_starts_and_is_ready_while_nats_is_unreachable(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "SOCLE_NATS_URL": "nats://127.0.0.1:1",
        "SOCLE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/payment.db",
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
    assert "socle-payment: NATS is not reachable at nats://127.0.0.1:1 yet" in err
