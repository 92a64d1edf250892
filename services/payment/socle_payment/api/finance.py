"""Finance office: the CSV report, QR-bills and camt.054 reconciliation."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from socle.openapi import problem_responses
from socle.problems import TooLarge, Unprocessable
from socle_payment.api.deps import PROVIDER_DOWN, CommuneReader, CommuneWriter, PaymentsDep, Reader
from socle_payment.api.payments import PaymentId
from socle_payment.camt import parse_camt054
from socle_payment.payments import minor_to_decimal
from socle_payment.qrbills import render_pdf, render_svg
from socle_payment.schemas import ReconciliationLine, ReconciliationOut

router = APIRouter(tags=["finance"])

CSV_COLUMNS = [
    "payment_id",
    "created_at",
    "reference",
    "procedure_ref",
    "status",
    "currency",
    "amount",
    "amount_captured",
    "amount_refunded",
    "provider",
    "provider_payment_id",
    "provider_charge_id",
    "qr_reference",
]

Language = Annotated[str, Query(pattern="^(de|fr|it|en)$", description="de, fr, it or en.")]


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # Spreadsheets run cells that start like a formula; keep them text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get(
    "/v1/reports/payments.csv",
    summary="One CSV line per payment created in the date range (both days included, UTC)",
    responses={
        200: {"content": {"text/csv": {}}, "description": "The report"},
        **problem_responses(401, 403, 422),
    },
)
async def payments_report(
    principal: CommuneReader,
    payments: PaymentsDep,
    start: Annotated[date, Query(alias="from", description="First day, YYYY-MM-DD.")],
    end: Annotated[date, Query(alias="to", description="Last day, YYYY-MM-DD.")],
) -> Response:
    rows = await payments.report(principal.tenant, start, end)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for p in rows:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    p.id,
                    p.created_at.isoformat(),
                    p.reference,
                    p.procedure_ref,
                    p.status,
                    p.currency,
                    minor_to_decimal(p.amount),
                    minor_to_decimal(p.amount_captured),
                    minor_to_decimal(p.amount_refunded),
                    p.provider,
                    p.provider_payment_id,
                    p.provider_charge_id,
                    p.qr_reference,
                )
            ]
        )
    filename = f"payments-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/v1/payments/{payment_id}/qr-bill.svg",
    summary="The QR-bill of a qrbill payment, as SVG",
    responses={
        200: {"content": {"image/svg+xml": {}}},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def qr_bill_svg(
    principal: Reader,
    payments: PaymentsDep,
    payment_id: PaymentId,
    lang: Language = "fr",
) -> Response:
    payment, _, _ = await payments.get(principal.tenant, payment_id, owner=principal.owner)
    return Response(
        render_svg(await payments.creditor_of(payment.tenant), payment, lang),
        media_type="image/svg+xml",
    )


@router.get(
    "/v1/payments/{payment_id}/qr-bill.pdf",
    summary="The QR-bill of a qrbill payment, as PDF",
    responses={
        200: {"content": {"application/pdf": {}}},
        **problem_responses(401, 403, 404, 409, 422, PROVIDER_DOWN),
    },
)
async def qr_bill_pdf(
    principal: Reader,
    payments: PaymentsDep,
    payment_id: PaymentId,
    lang: Language = "fr",
) -> Response:
    payment, _, _ = await payments.get(principal.tenant, payment_id, owner=principal.owner)
    return Response(
        render_pdf(await payments.creditor_of(payment.tenant), payment, lang),
        media_type="application/pdf",
    )


@router.post(
    "/v1/reconciliations/camt054",
    response_model=ReconciliationOut,
    summary="Reconcile a bank's camt.054 file: matching QR-bills become succeeded",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/xml": {"schema": {"type": "string"}}},
        }
    },
    responses=problem_responses(401, 403, 413, 422),
)
async def reconcile_camt054(
    principal: CommuneWriter, payments: PaymentsDep, request: Request
) -> ReconciliationOut:
    limit = payments.settings.payment_max_camt_bytes
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > limit:
            raise TooLarge(f"The camt.054 file is larger than {limit} bytes.")
    if not raw:
        raise Unprocessable(
            "Send the camt.054 XML file as the request body (Content-Type: application/xml).",
            code="invalid-camt054",
        )
    report = await payments.reconcile(principal.tenant, parse_camt054(bytes(raw)))
    lines = [ReconciliationLine.model_validate(line) for line in report]
    matched = sum(1 for line in lines if line.outcome == "matched")
    return ReconciliationOut(
        matched=matched,
        unmatched=sum(1 for line in lines if line.outcome not in ("matched", "already_paid")),
        lines=lines,
    )
