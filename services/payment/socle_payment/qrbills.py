"""Swiss QR-bills: the payment part as SVG and PDF."""

from __future__ import annotations

import io

import qrbill
import structlog

from socle.pdf import svg_to_pdf
from socle_payment.errors import NotAQRBill
from socle_payment.models import Payment
from socle_payment.payments import minor_to_decimal
from socle_payment.tenant_settings import CreditorInfo

log = structlog.get_logger("socle_payment.qrbills")

LANGUAGES = ("de", "fr", "it", "en")


def _bill(creditor: CreditorInfo, payment: Payment, language: str) -> qrbill.QRBill:
    if payment.provider != "qrbill" or not payment.qr_reference:
        raise NotAQRBill("This payment is not paid by QR-bill; it has no bill.")
    return qrbill.QRBill(
        account=creditor.iban,
        creditor={
            "name": creditor.name,
            "street": creditor.street,
            "house_num": creditor.house_number,
            "pcode": creditor.postal_code,
            "city": creditor.city,
            "country": creditor.country,
        },
        amount=minor_to_decimal(payment.amount),
        currency=payment.currency,
        reference_number=payment.qr_reference,
        additional_information=payment.description[:140],
        language=language if language in LANGUAGES else "fr",
    )


def render_svg(creditor: CreditorInfo, payment: Payment, language: str = "fr") -> str:
    """The payment part with receipt, as an SVG document (payable to ``creditor``)."""
    out = io.StringIO()
    _bill(creditor, payment, language).as_svg(out, full_page=True)
    return out.getvalue()


def render_pdf(creditor: CreditorInfo, payment: Payment, language: str = "fr") -> bytes:
    """The bill on an A4 page, as PDF (rendered from the SVG with CairoSVG)."""
    return svg_to_pdf(render_svg(creditor, payment, language))
