"""What `make run` promises: the whole platform up on this machine, then nothing left on Ctrl-C."""

from __future__ import annotations

import email
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from socle_dev.localinfra import free_port
from tests.support.platform import processes_mentioning

ROOT = Path(__file__).resolve().parents[2]
PARTS = ["PROCEDURES", "IDENTITY", "PAYMENT", "STORAGE", "NOTIFY", "NATS", "S3", "SMTP"]


def paid_fee_mails_a_receipt(ports: dict[str, int], auth: dict[str, str], mails: Path) -> None:
    """A commune's rule turns payment.succeeded into a receipt: payment, the bus and notify
    working together as separate processes, the mail landing in the sink."""
    notify = f"http://127.0.0.1:{ports['NOTIFY']}"
    template = httpx.post(
        f"{notify}/v1/templates",
        headers=auth,
        json={
            "name": "Receipt",
            "channel": "email",
            "default_language": "fr",
            "contents": {
                "fr": {
                    "subject": "Quittance ((reference))",
                    "body": "Nous avons reçu ((amount_display)) pour ((reference)).",
                }
            },
        },
    )
    assert template.status_code == 201, template.text
    rule = httpx.post(
        f"{notify}/v1/rules",
        headers=auth,
        json={
            "event_type": "payment.succeeded",
            "template_id": template.json()["id"],
            "recipient_field": "data.payer_email",
        },
    )
    assert rule.status_code == 201, rule.text
    payment = httpx.post(
        f"http://127.0.0.1:{ports['PAYMENT']}/v1/payments",
        headers=auth,
        json={
            "amount": 15000,
            "currency": "CHF",
            "reference": "PERMIT-E2E",
            "description": "Permis",
            "return_url": "http://localhost:8000/done",
            "payer_email": "anna@demo.example",
        },
    )
    assert payment.status_code == 201, payment.text
    with httpx.Client() as browser:  # keeps the page's CSRF cookie, as a browser would
        page_url = payment.json()["next_url"]
        page = browser.get(page_url)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf, page.text
        paid = browser.post(
            page_url, data={"card_number": "4242 4242 4242 4242", "csrf_token": csrf.group(1)}
        )
        assert paid.status_code == 303, paid.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        receipts = [m for m in mails.glob("*.eml") if b"PERMIT-E2E" in m.read_bytes()]
        if receipts:
            break
        time.sleep(0.3)
    else:
        raise AssertionError("no receipt mail in the sink within 30 s")
    mail = email.message_from_bytes(receipts[0].read_bytes())
    assert mail["To"] == "anna@demo.example"
    assert mail["Subject"] == "Quittance PERMIT-E2E"


def document_round_trip(ports: dict[str, int], auth: dict[str, str]) -> None:
    """storage against the SeaweedFS that make run started: upload, read back whole and by
    Range."""
    storage = f"http://127.0.0.1:{ports['STORAGE']}"
    pdf = b"%PDF-1.7\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 100 + b"%%EOF\n"
    uploaded = httpx.post(
        f"{storage}/v1/documents",
        headers=auth,
        data={"kind": "plan"},
        files={"file": ("plan.pdf", pdf, "application/pdf")},
    )
    assert uploaded.status_code == 201, uploaded.text
    document = uploaded.json()
    assert document["sha256"] == hashlib.sha256(pdf).hexdigest()
    content = f"{storage}/v1/documents/{document['id']}/content"
    assert httpx.get(content, headers=auth).content == pdf
    part = httpx.get(content, headers={**auth, "Range": "bytes=0-7"})
    assert part.status_code == 206
    assert part.content == pdf[:8]


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
            data={
                "grant_type": "client_credentials",
                "scope": "payments:read payments:write notifications:admin "
                "documents:read documents:write",
            },
            auth=(client["client_id"], client["client_secret"]),
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        listed = httpx.get(f"http://127.0.0.1:{ports['PAYMENT']}/v1/payments", headers=auth)
        assert listed.status_code == 200, listed.text
        paid_fee_mails_a_receipt(ports, auth, tmp_path / "var" / "mail")
        document_round_trip(ports, auth)
    finally:
        launcher.send_signal(signal.SIGINT)
        launcher.wait(timeout=90)
    deadline = time.monotonic() + 10
    while processes_mentioning(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(tmp_path)) == [], "processes left behind after Ctrl-C"
