"""Payment rules without any server: the state machine, money, QR references and IBANs,
camt.054 amounts and the create-payment body."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from stdnum.ch import esr

from socle.web import format_money
from socle_payment.camt import parse_camt054
from socle_payment.errors import IllegalTransition, InvalidCamt
from socle_payment.models import Payment
from socle_payment.payments.ledger import (
    OPEN,
    PAID,
    TRANSITIONS,
    PaymentsBase,
    minor_to_decimal,
)
from socle_payment.providers import new_qr_reference
from socle_payment.schemas import PaymentCreate
from socle_payment.settings import DEMO_QR_IBAN, PaymentSettings

# ---- the state machine ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "to"),
    [
        ("created", "pending"),
        ("pending", "succeeded"),
        ("pending", "failed"),
        ("succeeded", "partially_refunded"),
        ("partially_refunded", "partially_refunded"),
        ("partially_refunded", "refunded"),
        # money that arrives late is never ignored
        ("expired", "succeeded"),
        ("cancelled", "succeeded"),
    ],
)
def test_a_payment_may_move(start: str, to: str) -> None:
    assert to in TRANSITIONS[start]


@pytest.mark.parametrize(
    ("start", "to"),
    [
        ("refunded", "succeeded"),
        ("refunded", "partially_refunded"),
        ("failed", "succeeded"),
        ("failed", "pending"),
        ("succeeded", "cancelled"),
        ("succeeded", "expired"),
        ("created", "refunded"),
        ("pending", "refunded"),
        ("expired", "cancelled"),
    ],
)
async def test_an_illegal_move_is_refused_with_409(start: str, to: str) -> None:
    payments = PaymentsBase(PaymentSettings(), {}, None)  # type: ignore[arg-type]
    payment = Payment(id="p1", tenant="t", status=start)
    with pytest.raises(IllegalTransition) as refused:
        await payments._transition(None, payment, to, "test")  # type: ignore[arg-type]
    assert refused.value.status == 409
    assert refused.value.code == "illegal-transition"
    assert f"{start} -> {to}" in str(refused.value.errors)
    assert payment.status == start


def test_every_state_is_known_and_final_states_are_final() -> None:
    states = set(TRANSITIONS)
    assert all(targets <= states for targets in TRANSITIONS.values())
    assert TRANSITIONS["refunded"] == frozenset()
    assert TRANSITIONS["failed"] == frozenset()
    assert {"created", "pending"} == OPEN
    assert {"succeeded", "refunded"} <= PAID
    assert not OPEN & PAID


# ---- money ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "shown"),
    [
        (15000, "150.00"),
        (1, "0.01"),
        (10, "0.10"),
        (0, "0.00"),
        (99, "0.99"),
        (100, "1.00"),
        (-250, "-2.50"),
        (123456789012345678, "1234567890123456.78"),  # no float rounding on big amounts
    ],
)
def test_minor_units_are_shown_as_a_decimal(minor: int, shown: str) -> None:
    assert minor_to_decimal(minor) == shown


@pytest.mark.parametrize(
    ("minor", "currency", "lang", "shown"),
    [
        (123450, "CHF", "fr", "CHF 1\u2019234.50"),
        (123450, "CHF", "de", "CHF 1\u2019234.50"),
        (123450, "EUR", "en", "EUR 1,234.50"),
        (5, "CHF", "fr", "CHF 0.05"),
        (100_000_000, "CHF", "it", "CHF 1\u2019000\u2019000.00"),
        (-1050, "CHF", "en", "CHF -10.50"),
    ],
)
def test_amounts_are_shown_the_swiss_way(minor: int, currency: str, lang: str, shown: str) -> None:
    assert format_money(minor, currency, lang) == shown


def _body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "amount": 15000,
        "currency": "CHF",
        "reference": "F-1",
        "description": "Parking card",
        "return_url": "https://commune.example/back",
    }
    body.update(changes)
    return body


def test_a_payment_body_is_accepted() -> None:
    created = PaymentCreate.model_validate(_body())
    assert created.amount == 15000
    assert created.provider == "sandbox"


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": 150.0},  # a decimal number of francs, not minor units
        {"amount": "15000"},
        {"amount": 0},
        {"amount": -1},
        {"amount": True},
        {"currency": "USD"},
        {"reference": ""},
        {"reference": "x" * 141},
        {"return_url": "javascript:alert(1)"},
        {"payer_subject": "bad\nsubject"},
        {"metadata": {f"k{i}": "v" for i in range(21)}},
        {"unknown": 1},
    ],
)
def test_a_bad_payment_body_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PaymentCreate.model_validate(_body(**changes))


# ---- QR references and IBANs -------------------------------------------------------------


def test_qr_references_carry_a_valid_check_digit() -> None:
    references = {new_qr_reference() for _ in range(50)}
    assert len(references) == 50
    for reference in references:
        assert len(reference) == 27 and reference.isdigit()
        assert esr.is_valid(reference)
        wrong = reference[:-1] + str((int(reference[-1]) + 1) % 10)
        assert not esr.is_valid(wrong)


def test_the_creditor_iban_is_normalised() -> None:
    spaced = "ch44 3199 9123 0008 8901 2"
    assert PaymentSettings(payment_creditor_iban=spaced).payment_creditor_iban == DEMO_QR_IBAN


@pytest.mark.parametrize(
    "iban",
    [
        "CH9300762011623852957",  # a valid IBAN, but an ordinary one: no QR reference possible
        "CH4431999123000889013",  # wrong check digits
        "DE89370400440532013000",  # not Swiss or Liechtenstein
        "not an iban",
    ],
)
def test_a_creditor_iban_that_is_no_qr_iban_is_refused(iban: str) -> None:
    with pytest.raises(ValidationError, match="QR-IBAN"):
        PaymentSettings(payment_creditor_iban=iban)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({}, "SANDBOX_ENABLED"),
        ({"payment_sandbox_enabled": False}, "PUBLIC_URL"),
        (
            {"payment_sandbox_enabled": False, "payment_public_url": "https://pay.example"},
            "demonstration QR-IBAN",
        ),
    ],
)
def test_production_refuses_development_payment_settings(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        PaymentSettings(environment="production", **changes)  # type: ignore[arg-type]


def test_a_non_positive_maximum_amount_is_refused() -> None:
    with pytest.raises(ValidationError, match="MAX_AMOUNT"):
        PaymentSettings(payment_max_amount=0)


# ---- camt.054 ------------------------------------------------------------------------------

CAMT = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">
 <BkToCstmrDbtCdtNtfctn><Ntfctn>{entries}</Ntfctn></BkToCstmrDbtCdtNtfctn>
</Document>"""

ENTRY = """<Ntry><NtryRef>E1</NtryRef><Amt Ccy="{ccy}">{amount}</Amt>
 <CdtDbtInd>{indicator}</CdtDbtInd><BookgDt><Dt>2026-11-30</Dt></BookgDt>
 <NtryDtls><TxDtls><Amt Ccy="{ccy}">{amount}</Amt>
  <RmtInf><Strd><CdtrRefInf><Ref>{ref}</Ref></CdtrRefInf></Strd></RmtInf>
 </TxDtls></NtryDtls></Ntry>"""


def camt(amount: str = "150.00", ccy: str = "CHF", indicator: str = "CRDT", ref: str = "") -> bytes:
    entry = ENTRY.format(amount=amount, ccy=ccy, indicator=indicator, ref=ref)
    return CAMT.format(entries=entry).encode()


def test_a_credit_is_read_in_minor_units_with_its_reference() -> None:
    reference = new_qr_reference()
    spaced = " ".join(reference[i : i + 5] for i in range(0, 27, 5))
    [line] = parse_camt054(camt("150.05", ref=spaced))
    assert line.amount == 15005
    assert line.currency == "CHF"
    assert line.credit
    assert line.qr_reference == reference
    assert line.booking_date == "2026-11-30"


def test_a_debit_is_not_a_credit() -> None:
    [line] = parse_camt054(camt(indicator="DBIT"))
    assert not line.credit


def test_an_entry_without_details_is_one_line() -> None:
    entry = '<Ntry><AcctSvcrRef>R9</AcctSvcrRef><Amt Ccy="EUR">7</Amt></Ntry>'
    [line] = parse_camt054(CAMT.format(entries=entry).encode())
    assert (line.entry_reference, line.amount, line.currency) == ("R9", 700, "EUR")


@pytest.mark.parametrize(
    ("amount", "ccy", "said"),
    [
        ("1.005", "CHF", "whole minor units"),
        ("-5.00", "CHF", "plain non-negative decimal"),
        ("1e3", "CHF", "plain non-negative decimal"),
        ("", "CHF", "no amount"),
        ("9" * 19, "CHF", "at most 18 digits"),
        ("5.00", "chf", "ISO 4217"),
    ],
)
def test_a_bad_amount_refuses_the_whole_file(amount: str, ccy: str, said: str) -> None:
    with pytest.raises(InvalidCamt) as refused:
        parse_camt054(camt(amount, ccy))
    assert refused.value.status == 422
    assert said in str(refused.value)
    assert "entry 1 of notification 1" in str(refused.value)


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b"<not xml", "not well-formed XML"),
        (b"<Document><Other/></Document>", "not a camt.054"),
        (
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "x">]><Document>&e;</Document>',
            "not well-formed XML",  # entities are refused (defusedxml)
        ),
    ],
)
def test_what_is_no_camt054_is_refused(raw: bytes, said: str) -> None:
    with pytest.raises(InvalidCamt, match=said):
        parse_camt054(raw)
