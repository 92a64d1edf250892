"""What `make run` promises: the whole platform up on this machine, then nothing left on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from socle.localinfra import free_port

ROOT = Path(__file__).resolve().parents[2]
PARTS = ["PROCEDURES", "IDENTITY", "PAYMENT", "STORAGE", "NOTIFY", "NATS", "S3", "SMTP"]


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if text in cmdline or text in environ:
            found.append(int(entry.name))
    return found


def test_make_run_starts_everything_and_ctrl_c_stops_everything(tmp_path):
    ports = {part: free_port() for part in PARTS}
    env = dict(
        os.environ,
        SOCLE_VAR_DIR=str(tmp_path / "var"),
        **{f"SOCLE_{part}_PORT": str(port) for part, port in ports.items()},
    )
    launcher = subprocess.Popen(
        [sys.executable, str(ROOT / "deploy" / "local" / "run.py")],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 120  # the promise: every service up within 2 minutes
        assert launcher.stdout is not None
        for line in launcher.stdout:
            output.append(line)
            if "Ctrl-C stops everything" in line:
                break
            assert time.monotonic() < deadline, "platform not up in 2 minutes"
        else:
            raise AssertionError("launcher ended early:\n" + "".join(output[-40:]))
        for part in PARTS[:5]:
            health = httpx.get(f"http://127.0.0.1:{ports[part]}/healthz", timeout=5)
            assert health.json()["status"] == "ok", part
        credentials = json.loads((tmp_path / "var" / "dev-credentials.json").read_text())
        assert credentials["tenant"] == "demo"
        # The demo client gets a token and another service accepts it.
        client = credentials["client"]
        token = httpx.post(
            f"http://127.0.0.1:{ports['IDENTITY']}/token",
            data={"grant_type": "client_credentials", "scope": "payments:read"},
            auth=(client["client_id"], client["client_secret"]),
        ).json()
        listed = httpx.get(
            f"http://127.0.0.1:{ports['PAYMENT']}/v1/payments",
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
        assert listed.status_code == 200, listed.text
    finally:
        launcher.send_signal(signal.SIGINT)
        launcher.wait(timeout=90)
    deadline = time.monotonic() + 10
    while processes_mentioning(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(tmp_path)) == [], "processes left behind after Ctrl-C"
