"""Per-tenant settings: each commune's creditor (printed on its QR-bills) and its own Stripe
account, or its Stripe Connect account on the platform's. A tenant without its own uses the
process-wide settings (``SOCLE_PAYMENT_*``).

The Stripe keys are sealed at rest with the key-encryption key (:mod:`socle.sealing`) and
never leave the service: what the API shows of a key is whether it is set and its last four
characters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import utcnow
from socle.problems import Conflict, Unprocessable
from socle.sealing import KeyEncryption
from socle_payment.models import TenantSettings
from socle_payment.settings import PaymentSettings, qr_iban_problem

CREDITOR_FIELDS = ("iban", "name", "street", "house_number", "postal_code", "city", "country")
SECRET_FIELDS = ("stripe_secret_key", "stripe_webhook_secret")
ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{1,200}")


@dataclass(frozen=True)
class CreditorInfo:
    """Who a tenant's QR-bills are payable to."""

    iban: str
    name: str
    street: str
    house_number: str
    postal_code: str
    city: str
    country: str

    @classmethod
    def default(cls, settings: PaymentSettings) -> CreditorInfo:
        return cls(
            iban=settings.payment_creditor_iban,
            name=settings.payment_creditor_name,
            street=settings.payment_creditor_street,
            house_number=settings.payment_creditor_house_number,
            postal_code=settings.payment_creditor_postal_code,
            city=settings.payment_creditor_city,
            country=settings.payment_creditor_country,
        )


@dataclass(frozen=True)
class StripeKeys:
    """The Stripe account a tenant's payments are made through."""

    secret_key: str
    webhook_secret: str
    account_id: str | None = None
    """The Stripe Connect account the calls are made on (``Stripe-Account``), if any."""


def _context(tenant: str, field: str) -> str:
    return f"payment:{tenant}:{field}"


def _last4(secret: str | None) -> dict[str, Any]:
    return {"configured": bool(secret), "last4": secret[-4:] if secret else None}


class TenantConfig:
    """Reads and changes the per-tenant settings (inside the caller's transaction)."""

    def __init__(self, settings: PaymentSettings, encryption: KeyEncryption) -> None:
        self.settings = settings
        self.encryption = encryption

    async def creditor(self, session: AsyncSession, tenant: str) -> CreditorInfo:
        row = await session.get(TenantSettings, tenant)
        if row is None or not row.creditor:
            return CreditorInfo.default(self.settings)
        return CreditorInfo(**{k: str(row.creditor[k]) for k in CREDITOR_FIELDS})

    async def stripe_keys(self, session: AsyncSession, tenant: str) -> StripeKeys | None:
        """The tenant's own Stripe account, else the installation's, else None."""
        row = await session.get(TenantSettings, tenant)
        account = row.stripe_account_id if row is not None else None
        if row is not None and row.stripe_secret_key:
            return StripeKeys(
                secret_key=self.encryption.open(
                    row.stripe_secret_key, context=_context(tenant, "stripe_secret_key")
                ),
                webhook_secret=self.encryption.open(
                    row.stripe_webhook_secret or "",
                    context=_context(tenant, "stripe_webhook_secret"),
                )
                if row.stripe_webhook_secret
                else "",
                account_id=account,
            )
        if self.settings.stripe_enabled:
            return StripeKeys(
                self.settings.payment_stripe_secret_key,
                self.settings.payment_stripe_webhook_secret,
                account_id=account,
            )
        return None

    async def configure(
        self, session: AsyncSession, tenant: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """Apply ``changes`` (``creditor``: a dict or None to fall back to the default;
        ``stripe``: ``{"secret_key", "webhook_secret"}`` or None; ``stripe_account_id``:
        ``acct_...`` or None); fields not named stay."""
        row = await session.get(TenantSettings, tenant, with_for_update=True)
        if row is None:
            row = TenantSettings(tenant=tenant, creditor=None)
            session.add(row)
        if "creditor" in changes:
            row.creditor = self._checked_creditor(changes["creditor"])
        if "stripe" in changes:
            stripe = changes["stripe"]
            if stripe is None:
                row.stripe_secret_key = row.stripe_webhook_secret = None
                row.stripe_secret_key_last4 = row.stripe_webhook_secret_last4 = None
            else:
                self._require_encryption()
                secret, webhook = stripe["secret_key"], stripe["webhook_secret"]
                row.stripe_secret_key = self.encryption.seal(
                    secret, context=_context(tenant, "stripe_secret_key")
                )
                row.stripe_webhook_secret = self.encryption.seal(
                    webhook, context=_context(tenant, "stripe_webhook_secret")
                )
                row.stripe_secret_key_last4 = secret[-4:]
                row.stripe_webhook_secret_last4 = webhook[-4:]
        if "stripe_account_id" in changes:
            row.stripe_account_id = self._checked_account(changes["stripe_account_id"])
        row.updated_at = utcnow()
        await session.flush()
        return self.describe(tenant, row)

    async def view(self, session: AsyncSession, tenant: str) -> dict[str, Any]:
        return self.describe(tenant, await session.get(TenantSettings, tenant))

    def describe(self, tenant: str, row: TenantSettings | None) -> dict[str, Any]:
        """What an administrator sees: never a secret, only whether it is set and its end."""
        own_creditor = row is not None and bool(row.creditor)
        creditor = (
            {k: str(row.creditor[k]) for k in CREDITOR_FIELDS}
            if row is not None and row.creditor
            else vars(CreditorInfo.default(self.settings)).copy()
        )
        own_stripe = row is not None and bool(row.stripe_secret_key)
        if own_stripe:
            assert row is not None
            secret = {"configured": True, "last4": row.stripe_secret_key_last4}
            webhook = {
                "configured": bool(row.stripe_webhook_secret),
                "last4": row.stripe_webhook_secret_last4,
            }
        else:
            secret = _last4(self.settings.payment_stripe_secret_key)
            webhook = _last4(self.settings.payment_stripe_webhook_secret)
        base = self.settings.payment_public_url.rstrip("/")
        return {
            "tenant": tenant,
            "creditor": {"source": "tenant" if own_creditor else "default", **creditor},
            "stripe": {
                "source": "tenant" if own_stripe else "default",
                "secret_key": secret,
                "webhook_secret": webhook,
                "webhook_url": f"{base}/v1/providers/stripe/webhook/{tenant}",
                "account_id": row.stripe_account_id if row is not None else None,
            },
            "updated_at": row.updated_at if row is not None else None,
        }

    def _require_encryption(self) -> None:
        problem = self.settings.key_encryption_problem(
            self.settings.environment, "the tenants' Stripe keys"
        )
        if problem:
            raise Conflict(
                f"This installation cannot store secrets: {problem}.", code="no-key-encryption"
            )

    @staticmethod
    def _checked_account(value: str | None) -> str | None:
        if value is None:
            return None
        account = str(value).strip()
        if not ACCOUNT_ID.fullmatch(account):
            raise Unprocessable(
                "The Stripe Connect account id must look like acct_ followed by letters and "
                "digits.",
                code="invalid-stripe-account",
                errors=[
                    {"field": "body.stripe_account_id", "message": "acct_...", "code": "invalid"}
                ],
            )
        return account

    @staticmethod
    def _checked_creditor(value: dict[str, Any] | None) -> dict[str, str] | None:
        if value is None:
            return None
        creditor = {k: str(value[k]).strip() for k in CREDITOR_FIELDS}
        creditor["iban"] = creditor["iban"].replace(" ", "").upper()
        problem = qr_iban_problem(creditor["iban"])
        if problem:
            raise Unprocessable(
                f"The creditor IBAN {problem}.",
                code="invalid-creditor",
                errors=[{"field": "body.creditor.iban", "message": problem, "code": "invalid"}],
            )
        return creditor
