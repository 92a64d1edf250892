"""Reading a bank's ISO 20022 camt.054 notification (credits with their QR reference)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from socle_payment.errors import InvalidCamt


@dataclass(frozen=True)
class CamtLine:
    """One credit (or debit) notified in a camt.054 file."""

    entry_reference: str | None
    qr_reference: str | None
    amount: int
    currency: str
    credit: bool
    booking_date: str | None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: Element, *path: str) -> Element | None:
    current: Element | None = element
    for name in path:
        if current is None:
            return None
        current = next((c for c in current if _local(c.tag) == name), None)
    return current


def _children(element: Element, name: str) -> list[Element]:
    return [c for c in element if _local(c.tag) == name]


def _text(element: Element, *path: str) -> str | None:
    found = _child(element, *path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


#: ISO 20022 ActiveOrHistoricCurrencyAndAmount: a plain decimal, at most 18 digits of which
#: at most 5 after the point, never negative. Checked on the text before any conversion, so
#: ``1E+999990``, ``Infinity`` or ``NaN`` never reach Decimal arithmetic.
AMOUNT = re.compile(r"^[0-9]{1,18}(?:\.[0-9]{1,5})?$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_MINOR_UNITS = 2**63 - 1
MAX_SHOWN = 40


def _shown(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…"


def _bad_entry(where: str, field: str, message: str) -> InvalidCamt:
    return InvalidCamt(
        f"The camt.054 file has {where} with {message}; nothing was reconciled.",
        errors=[{"field": field, "message": message, "code": "invalid"}],
    )


def _minor_units(element: Element | None, where: str, field: str) -> tuple[int, str]:
    """(minor units, currency) of an ``Amt`` element; a 422 naming the entry otherwise."""
    text = "" if element is None or element.text is None else element.text.strip()
    if not text:
        raise _bad_entry(where, field, "no amount")
    if not AMOUNT.match(text) or sum(ch.isdigit() for ch in text) > 18:
        raise _bad_entry(
            where,
            field,
            f"the amount {_shown(text)!r}, which is not a plain non-negative decimal of at "
            "most 18 digits (ISO 20022)",
        )
    minor = Decimal(text) * 100
    if minor != minor.to_integral_value():
        raise _bad_entry(where, field, f"the amount {text}, which is not in whole minor units")
    if minor > MAX_MINOR_UNITS:
        raise _bad_entry(where, field, f"the amount {text}, which is too large")
    assert element is not None
    currency = element.get("Ccy", "")
    if not CURRENCY.match(currency):
        raise _bad_entry(
            where, f"{field}/@Ccy", f"the currency {_shown(currency)!r}, not an ISO 4217 code"
        )
    return int(minor), currency


def parse_camt054(raw: bytes) -> list[CamtLine]:
    """The transaction lines of a camt.054 (any version: namespaces are ignored)."""
    try:
        root = ElementTree.fromstring(raw)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise InvalidCamt(f"The file is not well-formed XML: {exc}.") from exc
    notification = next((e for e in root.iter() if _local(e.tag) == "BkToCstmrDbtCdtNtfctn"), None)
    if notification is None:
        raise InvalidCamt(
            "The file is not a camt.054 notification (no BkToCstmrDbtCdtNtfctn element)."
        )
    lines: list[CamtLine] = []
    for n, ntfctn in enumerate(_children(notification, "Ntfctn"), start=1):
        for e, entry in enumerate(_children(ntfctn, "Ntry"), start=1):
            lines.extend(_entry_lines(entry, n, e))
    return lines


def _entry_lines(entry: Element, n: int, e: int) -> list[CamtLine]:
    """The lines of one ``Ntry``: one per transaction detail, or the entry itself."""
    entry_ref = _text(entry, "AcctSvcrRef") or _text(entry, "NtryRef")
    where = f"entry {e} of notification {n}" + (f" ({_shown(entry_ref)})" if entry_ref else "")
    path = f"Ntfctn[{n}]/Ntry[{e}]"
    entry_credit = _text(entry, "CdtDbtInd") != "DBIT"
    booking = _text(entry, "BookgDt", "Dt") or _text(entry, "BookgDt", "DtTm")
    details = [tx for d in _children(entry, "NtryDtls") for tx in _children(d, "TxDtls")]
    if not details:
        amount, ccy = _minor_units(_child(entry, "Amt"), where, f"{path}/Amt")
        return [CamtLine(entry_ref, None, amount, ccy, entry_credit, booking)]
    lines: list[CamtLine] = []
    for t, tx in enumerate(details, start=1):
        amount_el, field = _child(tx, "Amt"), f"{path}/TxDtls[{t}]/Amt"
        if amount_el is None:
            amount_el = _child(tx, "AmtDtls", "TxAmt", "Amt")
            field = f"{path}/TxDtls[{t}]/AmtDtls/TxAmt/Amt"
        if amount_el is None:
            amount_el, field = _child(entry, "Amt"), f"{path}/Amt"
        amount, ccy = _minor_units(amount_el, where, field)
        indicator = _text(tx, "CdtDbtInd")
        credit = entry_credit if indicator is None else indicator != "DBIT"
        ref = _text(tx, "RmtInf", "Strd", "CdtrRefInf", "Ref")
        tx_ref = _text(tx, "Refs", "AcctSvcrRef") or entry_ref
        lines.append(
            CamtLine(tx_ref, ref.replace(" ", "") if ref else None, amount, ccy, credit, booking)
        )
    return lines
