"""Procedures' client of payment, against an HTTP server answering as payment does: a refund
still being made at payment (409 idempotency-in-progress) is "retry in a moment", not a
refusal."""

from __future__ import annotations

import json

import pytest

from socle_dev.stub_http import StubServer
from socle_procedures.errors import PaymentRefused, PaymentUnavailable
from socle_procedures.payment_client import PaymentClient

PROBLEM_BASE = "https://socle.swiss/problems/"


def _problem(code: str, status: int) -> bytes:
    return json.dumps({"type": PROBLEM_BASE + code, "status": status, "detail": code}).encode()


async def test_a_refund_still_in_progress_is_unavailable_not_refused():
    with StubServer(status=409, body=_problem("idempotency-in-progress", 409)) as payment:
        client = PaymentClient(payment.url)
        try:
            with pytest.raises(PaymentUnavailable) as later:
                await client.refund(
                    "token", "p1", amount=500, reason=None, idempotency_key="refund-1"
                )
            assert later.value.headers["Retry-After"]
            payment.body = _problem("payment-not-refundable", 409)
            with pytest.raises(PaymentRefused):
                await client.refund(
                    "token", "p1", amount=500, reason=None, idempotency_key="refund-1"
                )
        finally:
            await client.close()
    assert [r.headers["idempotency-key"] for r in payment.requests] == ["refund-1"] * 2
