"""Request and response bodies of the per-tenant settings (admin API)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Source = Literal["tenant", "default"]


class CreditorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    iban: str = Field(min_length=15, max_length=40, description="The commune's QR-IBAN.")
    name: str = Field(min_length=1, max_length=70)
    street: str = Field(default="", max_length=70)
    house_number: str = Field(default="", max_length=16)
    postal_code: str = Field(min_length=1, max_length=16)
    city: str = Field(min_length=1, max_length=35)
    country: str = Field(default="CH", pattern="^[A-Z]{2}$")


class StripeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret_key: str = Field(
        min_length=8, max_length=255, pattern=r"^(sk|rk)_", description="sk_live_... or rk_..."
    )
    webhook_secret: str = Field(
        min_length=8, max_length=255, pattern=r"^whsec_", description="whsec_..."
    )


class TenantSettingsIn(BaseModel):
    """Only the members given change; ``null`` falls back to the installation's default."""

    model_config = ConfigDict(extra="forbid")

    creditor: CreditorIn | None = None
    stripe: StripeIn | None = None
    stripe_account_id: str | None = Field(
        default=None,
        pattern=r"^acct_[A-Za-z0-9]+$",
        max_length=255,
        description="A Stripe Connect account (acct_...): the tenant's payments are made on it "
        "with the platform's key (the tenant's own keys, else the installation's).",
    )


class CreditorOut(BaseModel):
    source: Source
    iban: str
    name: str
    street: str
    house_number: str
    postal_code: str
    city: str
    country: str


class SecretOut(BaseModel):
    configured: bool
    last4: str | None = Field(description="The last four characters; the secret never leaves.")


class StripeOut(BaseModel):
    source: Source
    secret_key: SecretOut
    webhook_secret: SecretOut
    webhook_url: str = Field(description="Where to point this tenant's Stripe webhook.")
    account_id: str | None = Field(
        description="The Stripe Connect account payments are made on (Stripe-Account), if any."
    )


class TenantSettingsOut(BaseModel):
    tenant: str
    creditor: CreditorOut
    stripe: StripeOut
    updated_at: datetime | None
