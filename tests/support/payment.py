"""Helpers of the payment tests: the app in-process or as a process of its own, a payment
body, camt.054 files."""

from __future__ import annotations

import asyncio
import io
import os
import random
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any

import cairosvg
import httpx
import zxingcpp
from PIL import Image
from pydantic import SecretStr

from socle.cli import main as cli_main
from socle.config import ServiceSettings, env_name
from socle_dev.localinfra import ManagedProcess, wait_for_port
from socle_dev.testing import running
from socle_payment.app import create_app
from socle_payment.settings import PaymentSettings

SCOPES = ["payments:read", "payments:write"]
BACK_OFFICE = "commune-back-office"


@asynccontextmanager
async def service(settings: PaymentSettings) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_app(settings)
    async with running(app) as client:
        yield client, app


def settings_env(settings: ServiceSettings) -> dict[str, str]:
    """The ``SOCLE_*`` variables that give a process ``settings`` (those set explicitly)."""
    values = settings.model_dump(include=settings.model_fields_set)
    return {
        env_name(type(settings), name): str(
            value.get_secret_value() if isinstance(value, SecretStr) else value
        )
        for name, value in values.items()
        if value is not None
    }


async def serve_payment(settings: PaymentSettings, port: int, log: IO[bytes]) -> ManagedProcess:
    """``socle-payment serve --port PORT`` as a process of its own (in its own process group,
    its output in ``log``), once it listens; ``kill()`` is a kill -9, ``stop()`` a SIGTERM."""
    process = ManagedProcess(
        args=[sys.executable, "-m", "socle_payment", "serve", "--port", str(port)],
        env={**os.environ, **settings_env(settings)},
        log=log,
    )
    process.start()
    try:
        await asyncio.to_thread(wait_for_port, port, 60.0, proc=process.proc)
    except BaseException:
        process.kill()
        raise
    return process


def payment_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": 15000,
        "currency": "CHF",
        "reference": "PERMIT-2026-001",
        "description": "Permis de construire",
        "return_url": "https://commune.example.ch/procedures/42/paid",
        "provider": "sandbox",
        "procedure_ref": "proc-42",
        "metadata": {"file": "42"},
    }
    body.update(overrides)
    return body


def camt054(lines: list[tuple[str | None, str, str, str]]) -> bytes:
    """A camt.054 notification with one entry per (reference, amount, currency, CRDT/DBIT)."""
    entries = []
    for n, (ref, amount, ccy, indicator) in enumerate(lines):
        remittance = (
            f"<RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Prtry>QRR</Prtry></CdOrPrtry></Tp>"
            f"<Ref>{ref}</Ref></CdtrRefInf></Strd></RmtInf>"
            if ref
            else "<RmtInf><Ustrd>Gebuehr</Ustrd></RmtInf>"
        )
        entries.append(
            f"""<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>
<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-11-23</Dt></BookgDt><AcctSvcrRef>BANK-{n}</AcctSvcrRef>
<NtryDtls><TxDtls><Refs><AcctSvcrRef>TX-{n}</AcctSvcrRef></Refs>
<Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>{remittance}</TxDtls></NtryDtls>
</Ntry>"""
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">
<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2026-11-23T18:00:00</CreDtTm></GrpHdr>
<Ntfctn><Id>N-1</Id><Acct><Id><IBAN>CH4431999123000889012</IBAN></Id></Acct>
{"".join(entries)}
</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>""".encode()


def qr_payload(svg: bytes) -> list[str]:
    png = cairosvg.svg2png(bytestring=svg, output_width=2480)
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    codes = [r.text for r in results if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(codes) == 1, codes
    return codes[0].replace("\r\n", "\n").split("\n")


MIGRATIONS = Path(__file__).resolve().parents[2] / "services/payment/socle_payment/migrations"


def payment_cli(*argv: str) -> int:
    """``socle-payment ARGV...`` in this process; its exit status."""
    return cli_main(
        name="payment",
        settings_cls=PaymentSettings,
        create_app=create_app,
        migrations=MIGRATIONS,
        default_port=8002,
        argv=list(argv),
    )


async def create_until_done(
    client: httpx.AsyncClient, headers: dict[str, str], key: str, seen: list[int]
) -> str:
    """A good client: the same request with the same key until it is created (its status
    codes appended to ``seen``). A 503 must be a problem with Retry-After; the client backs
    off exponentially with jitter, never longer than Retry-After asks."""
    attempt = 0
    while True:
        response = await client.post(
            "/v1/payments",
            json=payment_body(reference=f"KEY-{key}"),
            headers={**headers, "Idempotency-Key": key},
        )
        seen.append(response.status_code)
        if response.status_code == 201:
            payment_id: str = response.json()["id"]
            return payment_id
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        retry_after = int(response.headers["retry-after"])
        assert retry_after >= 1
        attempt += 1
        await asyncio.sleep(random.uniform(0, min(retry_after, 0.05 * 2**attempt)))
