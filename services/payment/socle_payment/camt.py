"""Reading a bank's ISO 20022 camt.054 notification (credits with their QR reference)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from socle.problems import Unprocessable


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


def _minor_units(element: Element | None) -> tuple[int, str]:
    if element is None or element.text is None:
        raise ValueError("an entry has no amount")
    value = Decimal(element.text.strip())
    minor = value * 100
    if minor != minor.to_integral_value() or minor < 0:
        raise ValueError(f"amount {element.text.strip()} is not in whole minor units")
    return int(minor), element.get("Ccy", "")


class InvalidCamt(Unprocessable):
    code = "invalid-camt054"


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
    try:
        for ntfctn in _children(notification, "Ntfctn"):
            for entry in _children(ntfctn, "Ntry"):
                entry_ref = _text(entry, "AcctSvcrRef") or _text(entry, "NtryRef")
                entry_credit = _text(entry, "CdtDbtInd") != "DBIT"
                booking = _text(entry, "BookgDt", "Dt") or _text(entry, "BookgDt", "DtTm")
                details = [
                    tx for d in _children(entry, "NtryDtls") for tx in _children(d, "TxDtls")
                ]
                if not details:
                    amount, ccy = _minor_units(_child(entry, "Amt"))
                    lines.append(CamtLine(entry_ref, None, amount, ccy, entry_credit, booking))
                    continue
                for tx in details:
                    amount_el = _child(tx, "Amt")
                    if amount_el is None:
                        amount_el = _child(tx, "AmtDtls", "TxAmt", "Amt")
                    if amount_el is None:
                        amount_el = _child(entry, "Amt")
                    amount, ccy = _minor_units(amount_el)
                    indicator = _text(tx, "CdtDbtInd")
                    credit = entry_credit if indicator is None else indicator != "DBIT"
                    ref = _text(tx, "RmtInf", "Strd", "CdtrRefInf", "Ref")
                    tx_ref = _text(tx, "Refs", "AcctSvcrRef") or entry_ref
                    lines.append(
                        CamtLine(
                            tx_ref,
                            ref.replace(" ", "") if ref else None,
                            amount,
                            ccy,
                            credit,
                            booking,
                        )
                    )
    except (ValueError, InvalidOperation) as exc:
        raise InvalidCamt(f"The camt.054 file has an unreadable amount: {exc}.") from exc
    return lines
