"""camt.054 reconciliation: QR-bills the bank notified as paid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import for_update
from socle_payment.camt import CamtLine
from socle_payment.models import Payment
from socle_payment.payments.ledger import PAID, PaymentsBase
from socle_payment.providers import Truth

log = structlog.get_logger("socle_payment")


class Reconciliation(PaymentsBase):
    """Matches camt.054 credit lines to QR-bill payments."""

    # ---- reconciliation ------------------------------------------------------------------

    async def reconcile(self, tenant: str, lines: Sequence[CamtLine]) -> list[dict[str, Any]]:
        """Mark the QR-bills a bank notified as paid; report every line and its outcome."""
        report: list[dict[str, Any]] = []
        async with self.sessions() as session, session.begin():
            for line in lines:
                outcome, payment_id = await self._reconcile_line(session, tenant, line)
                report.append(
                    {
                        "entry_reference": line.entry_reference,
                        "qr_reference": line.qr_reference,
                        "amount": line.amount,
                        "currency": line.currency,
                        "booking_date": line.booking_date,
                        "outcome": outcome,
                        "payment_id": payment_id,
                    }
                )
        log.info(
            "camt054_reconciled",
            tenant=tenant,
            lines=len(report),
            matched=sum(1 for r in report if r["outcome"] == "matched"),
        )
        return report

    async def _reconcile_line(
        self, session: AsyncSession, tenant: str, line: CamtLine
    ) -> tuple[str, str | None]:
        if not line.credit:
            return "not_a_credit", None
        if not line.qr_reference:
            return "unknown_reference", None
        payment = (
            await session.execute(
                for_update(
                    select(Payment).where(
                        Payment.tenant == tenant, Payment.qr_reference == line.qr_reference
                    )
                )
            )
        ).scalar_one_or_none()
        if payment is None:
            return "unknown_reference", None
        if payment.status in PAID:
            return "already_paid", payment.id
        if line.currency != payment.currency or line.amount != payment.amount:
            return "amount_mismatch", payment.id
        await self._apply_truth(
            session,
            tenant,
            payment.id,
            Truth(status="succeeded", amount_captured=line.amount),
            f"camt054:{line.entry_reference or line.qr_reference}",
        )
        return "matched", payment.id
