"""Use cases of the payment service; each owns its transaction and raises DomainErrors.

``Payments`` gathers them; each idea lives in its own module:

* ``ledger`` — the state machine and the ledger of transitions (errors: ``errors``);
* ``use_cases`` — create, read, list, report, cancel;
* ``refunds`` — refunds;
* ``citizen_page`` — the citizen's payment page and the sandbox card;
* ``stripe_webhooks`` — Stripe webhooks;
* ``reconciliation`` — camt.054 reconciliation of QR-bills;
* ``expiry`` — the expiry sweep;
* ``cut_short`` — the sweep that finishes creations and refunds cut short;
* ``tenant_admin`` — the tenant's own creditor and Stripe account.
"""

from __future__ import annotations

from dataclasses import dataclass

from socle_payment.payments.citizen_page import (
    SANDBOX_DECLINE_CARD,
    SANDBOX_SUCCESS_CARD,
    CitizenPage,
)
from socle_payment.payments.cut_short import CutShortSweep
from socle_payment.payments.expiry import ExpirySweep
from socle_payment.payments.ledger import (
    OPEN,
    PAID,
    TRANSITIONS,
    PaymentsBase,
    minor_to_decimal,
)
from socle_payment.payments.reconciliation import Reconciliation
from socle_payment.payments.refunds import Refunds
from socle_payment.payments.stripe_webhooks import StripeWebhooks
from socle_payment.payments.tenant_admin import TenantAdmin
from socle_payment.payments.use_cases import PaymentUseCases

__all__ = [
    "OPEN",
    "PAID",
    "SANDBOX_DECLINE_CARD",
    "SANDBOX_SUCCESS_CARD",
    "TRANSITIONS",
    "Payments",
    "PaymentsBase",
    "minor_to_decimal",
]


@dataclass
class Payments(
    CutShortSweep,  # builds on the creation and refunds use cases: before them
    PaymentUseCases,
    Refunds,
    CitizenPage,
    StripeWebhooks,
    Reconciliation,
    ExpirySweep,
    TenantAdmin,
):
    """The payment use cases, given the settings, the providers and a session factory."""
