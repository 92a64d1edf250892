"""Errors of the payment service: each with a stable code a commune developer can act on."""

from __future__ import annotations

from socle.problems import BadRequest, Conflict, Forbidden, NotFound, Unavailable, Unprocessable


class InvalidCamt(Unprocessable):
    code = "invalid-camt054"


class NotYourPayer(Forbidden):
    code = "payer-not-allowed"


class ProviderDown(Unavailable):
    code = "provider-unavailable"


class PaymentNotOpen(Conflict):
    code = "payment-not-open"


class IllegalTransition(Conflict):
    code = "illegal-transition"


class PaymentNotFound(NotFound):
    code = "payment-not-found"


class NotAQRBill(Conflict):
    code = "not-a-qr-bill"


class InvalidSignature(BadRequest):
    code, title = "invalid-signature", "Invalid webhook signature"


class InvalidWebhook(BadRequest):
    code = "invalid-webhook"
