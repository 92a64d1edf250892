"""What the payment routers and use cases need at run time, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from socle_payment.payments import Payments


@dataclass
class PaymentContext:
    payments: Payments
