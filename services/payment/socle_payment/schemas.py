"""Request and response bodies of the payment API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictInt,
    field_validator,
)

Currency = Literal["CHF", "EUR"]
Status = Literal[
    "created",
    "pending",
    "succeeded",
    "failed",
    "cancelled",
    "expired",
    "partially_refunded",
    "refunded",
]

MinorUnits = Annotated[
    StrictInt,
    Field(gt=0, description="Integer minor units: 15000 is CHF 150.00. Never a decimal number."),
]


class PaymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: MinorUnits
    currency: Currency = Field(description="ISO 4217 code: CHF or EUR.")
    reference: str = Field(
        min_length=1,
        max_length=140,
        description="Your reference (file number, invoice); shown in the finance report.",
    )
    description: str = Field(
        min_length=1, max_length=500, description="What the citizen pays for; shown to them."
    )
    return_url: AnyHttpUrl = Field(description="Where the citizen's browser goes back to.")
    provider: str = Field(
        default="sandbox",
        max_length=32,
        description="sandbox, stripe or qrbill (or an acquirer the commune added).",
    )
    procedure_ref: str | None = Field(
        default=None, max_length=140, description="The procedure this fee belongs to."
    )
    payer_email: EmailStr | None = Field(
        default=None,
        description="Where the receipt goes: carried in the payment's events, so a notify "
        "rule on payment.succeeded can mail it.",
    )
    payer_subject: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="The payer's subject (``sub`` at identity): that person's token then reads "
        "and cancels this payment. Set by the commune's staff and services; a person's token "
        "is always the payer of the payments it creates (another value is refused, 403).",
    )
    metadata: dict[str, str] = Field(
        default_factory=dict, description="Up to 20 string pairs kept with the payment."
    )

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 20:
            raise ValueError("at most 20 metadata keys")
        for key, item in value.items():
            if len(key) > 40 or len(item) > 500:
                raise ValueError("metadata keys are at most 40 characters, values 500")
        return value


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: MinorUnits | None = Field(
        default=None, description="Minor units to refund; omitted refunds all that remains."
    )
    reason: str | None = Field(default=None, max_length=500)


class LedgerEntry(BaseModel):
    from_status: Status | None
    to_status: Status
    cause: str
    amount: int | None
    at: datetime


class RefundOut(BaseModel):
    id: str
    payment_id: str
    amount: int
    reason: str | None
    provider_refund_id: str | None
    status: Literal["pending", "succeeded", "failed"] = Field(
        "succeeded",
        description="pending while the provider is asked (its amount is reserved), then "
        "succeeded; failed when the provider refused a refund whose request was cut short "
        "(nothing refunded, nothing reserved)",
    )
    created_at: datetime


class PaymentOut(BaseModel):
    id: str
    status: Status
    amount: int
    currency: Currency
    amount_captured: int
    amount_refunded: int
    reference: str
    description: str
    return_url: str
    procedure_ref: str | None
    payer_email: str | None
    payer_subject: str | None = Field(
        description="Whose payment it is; null when the commune created it for nobody's token."
    )
    metadata: dict[str, str]
    provider: str
    next_url: str | None = Field(
        description="Where to send the citizen while the payment is open; null once closed."
    )
    provider_payment_id: str | None
    provider_charge_id: str | None
    qr_reference: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    ledger: list[LedgerEntry] | None = Field(
        default=None, description="Every transition with its time and cause (single GET only)."
    )
    refunds: list[RefundOut] | None = None


class PaymentPage(BaseModel):
    items: list[PaymentOut]
    next_cursor: str | None


class ReconciliationLine(BaseModel):
    entry_reference: str | None
    qr_reference: str | None
    amount: int
    currency: str
    booking_date: str | None
    outcome: Literal[
        "matched", "already_paid", "unknown_reference", "amount_mismatch", "not_a_credit"
    ]
    payment_id: str | None


class ReconciliationOut(BaseModel):
    matched: int
    unmatched: int
    lines: list[ReconciliationLine]
