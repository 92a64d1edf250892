"""Settings of the payment service (environment variables ``SOCLE_*``)."""

from __future__ import annotations

from typing import Self

from pydantic import model_validator
from stdnum import iban

from socle import export_parts, sealing

DEMO_QR_IBAN = "CH4431999123000889012"


def qr_iban_problem(compact: str) -> str | None:
    """Why ``compact`` (no spaces, upper case) is not a QR-IBAN, or None."""
    if not (
        iban.is_valid(compact)
        and compact[:2] in ("CH", "LI")
        and 30000 <= int(compact[4:9]) <= 31999
    ):
        return (
            "must be a valid QR-IBAN (CH or LI, institution id 30000-31999): QR-bills carry a "
            "QR reference"
        )
    return None


class PaymentSettings(export_parts.ExportPartsSettings, sealing.KeyEncryptionSettings):
    """Everything the payment service reads from its environment."""

    database_url: str = "sqlite+aiosqlite:///var/payment.db"
    """Where payments, their ledger and refunds are stored."""
    payment_public_url: str = "http://localhost:8002"
    """Base URL of this service as the citizen's browser sees it (payment pages, QR-bills)."""
    payment_max_amount: int = 1_000_000
    """Largest amount accepted for one payment, in minor units (1000000 = CHF 10,000.00)."""
    payment_expiry_minutes: int = 60
    """An online payment (sandbox, Stripe) still pending after this long expires."""
    payment_qrbill_expiry_days: int = 60
    """A QR-bill not paid after this many days expires."""
    payment_expiry_sweep_seconds: float = 60.0
    """How often stale pending payments are looked for (0 disables the sweep)."""
    payment_cut_short_sweep_seconds: float = 60.0
    """How often creations and refunds cut short (their provider's answer never recorded,
    nobody retrying) are looked for and finished once their lease is over (0: never)."""
    payment_retention_days: int = 3650
    """Days a payment keeps its payer's data (e-mail, subject, metadata) before the purge
    pseudonymises it, unless the commune set its own (``PUT /v1/retention``); the record
    itself stays (accounting). Default: 10 years (Swiss CO art. 958f)."""
    retention_purge_seconds: float = 3600.0
    """Seconds between two runs of the retention purge (0: never, for tests)."""
    payment_sandbox_enabled: bool = True
    """Offer the ``sandbox`` provider (a local test card page); refused in production."""
    payment_stripe_secret_key: str = ""
    """Stripe secret API key; empty disables the ``stripe`` provider."""
    payment_stripe_webhook_secret: str = ""
    """Signing secret of the Stripe webhook endpoint (``whsec_...``)."""
    payment_stripe_api_base: str = "https://api.stripe.com"
    """Base URL of the Stripe API (change only to reach a proxy or a stand-in)."""
    payment_stripe_timeout_seconds: float = 10.0
    """Time allowed for one call to Stripe before the payment is left pending and retried."""
    payment_creditor_iban: str = DEMO_QR_IBAN
    """QR-IBAN printed on QR-bills (the default is a demonstration QR-IBAN, refused in
    production)."""
    payment_creditor_name: str = "Commune de Démo"
    """Creditor name printed on QR-bills."""
    payment_creditor_street: str = "Rue du Lac"
    """Creditor street printed on QR-bills."""
    payment_creditor_house_number: str = "1"
    """Creditor house number printed on QR-bills."""
    payment_creditor_postal_code: str = "1800"
    """Creditor postal code printed on QR-bills."""
    payment_creditor_city: str = "Vevey"
    """Creditor town printed on QR-bills."""
    payment_creditor_country: str = "CH"
    """Creditor country (ISO 3166 alpha-2) printed on QR-bills."""
    payment_max_camt_bytes: int = 5_000_000
    """Largest camt.054 file accepted for reconciliation, in bytes."""

    @property
    def stripe_enabled(self) -> bool:
        return bool(self.payment_stripe_secret_key)

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.payment_sandbox_enabled:
            problems.append(
                "SOCLE_PAYMENT_SANDBOX_ENABLED must be false in production: the sandbox "
                "accepts test cards"
            )
        if not self.payment_public_url.startswith("https://"):
            problems.append(
                "SOCLE_PAYMENT_PUBLIC_URL must be an https:// address in production: "
                "citizens reach their payment page there"
            )
        if self.payment_creditor_iban.replace(" ", "") == DEMO_QR_IBAN:
            problems.append(
                "SOCLE_PAYMENT_CREDITOR_IBAN is the demonstration QR-IBAN; set the commune's"
            )
        if self.payment_stripe_secret_key and not self.payment_stripe_webhook_secret:
            problems.append(
                "SOCLE_PAYMENT_STRIPE_WEBHOOK_SECRET is required when Stripe is enabled"
            )
        return problems

    @model_validator(mode="after")
    def _check_iban(self) -> Self:
        # Without a key-encryption key the service runs; only storing a tenant's own Stripe
        # keys is refused outside development (TenantConfig.configure).
        if self.key_encryption_key:
            problem = self.key_encryption_problem(self.environment, "the tenants' Stripe keys")
            if problem:
                raise ValueError(problem)
        compact = self.payment_creditor_iban.replace(" ", "").upper()
        if iban_problem := qr_iban_problem(compact):
            raise ValueError(f"SOCLE_PAYMENT_CREDITOR_IBAN {iban_problem}")
        self.payment_creditor_iban = compact
        if self.payment_max_amount <= 0:
            raise ValueError("SOCLE_PAYMENT_MAX_AMOUNT must be a positive number of minor units")
        return self
