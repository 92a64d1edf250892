"""Swiss QR-bills: the payment part as SVG and PDF."""

from __future__ import annotations

import io

import qrbill
import structlog

from socle.pdf import svg_to_pdf
from socle_payment.errors import NotAQRBill
from socle_payment.models import Payment
from socle_payment.payments import minor_to_decimal
from socle_payment.settings import PaymentSettings

log = structlog.get_logger("socle_payment.qrbills")

LANGUAGES = ("de", "fr", "it", "en")


def _bill(settings: PaymentSettings, payment: Payment, language: str) -> qrbill.QRBill:
    if payment.provider != "qrbill" or not payment.qr_reference:
        raise NotAQRBill("This payment is not paid by QR-bill; it has no bill.")
    return qrbill.QRBill(
        account=settings.payment_creditor_iban,
        creditor={
            "name": settings.payment_creditor_name,
            "street": settings.payment_creditor_street,
            "house_num": settings.payment_creditor_house_number,
            "pcode": settings.payment_creditor_postal_code,
            "city": settings.payment_creditor_city,
            "country": settings.payment_creditor_country,
        },
        amount=minor_to_decimal(payment.amount),
        currency=payment.currency,
        reference_number=payment.qr_reference,
        additional_information=payment.description[:140],
        language=language if language in LANGUAGES else "fr",
    )


def render_svg(settings: PaymentSettings, payment: Payment, language: str = "fr") -> str:
    """The payment part with receipt, as an SVG document."""
    out = io.StringIO()
    _bill(settings, payment, language).as_svg(out, full_page=True)
    return out.getvalue()


def render_pdf(settings: PaymentSettings, payment: Payment, language: str = "fr") -> bytes:
    """The bill on an A4 page, as PDF (rendered from the SVG with CairoSVG)."""
    return svg_to_pdf(render_svg(settings, payment, language))
