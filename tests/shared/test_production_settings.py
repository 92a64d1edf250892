"""Production refuses development infrastructure in every service, declared once in
``ServiceSettings``: SQLite, and an issuer not on HTTPS."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import pytest
from pydantic import ValidationError

from socle.config import ServiceSettings
from socle_identity.settings import IdentitySettings
from socle_notify.settings import NotifySettings
from socle_payment.settings import PaymentSettings
from socle_procedures.settings import ProceduresSettings
from socle_storage.settings import StorageSettings

COMMON = {
    "environment": "production",
    "database_url": "postgresql+asyncpg://socle@db/socle",
    "issuer": "https://login.vevey.ch",
}
OWN: dict[type[ServiceSettings], dict[str, Any]] = {
    IdentitySettings: {
        "secret_key": "s" * 40,
        "pairwise_salt": "a-random-pairwise-salt",
        "cookie_secure": True,
        "key_encryption_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    },
    PaymentSettings: {
        "payment_sandbox_enabled": False,
        "payment_public_url": "https://pay.vevey.ch",
        "payment_creditor_iban": "CH21 3080 8001 2345 6782 7",
    },
    StorageSettings: {"s3_secret_key": "a-real-store-secret"},
    NotifySettings: {
        "sms_provider": "http",
        "sms_gateway_url": "https://sms.vevey.ch",
        "mail_from": "Commune de Vevey <noreply@vevey.ch>",
    },
    ProceduresSettings: {"secret_key": "p" * 40, "public_url": "https://e.vevey.ch"},
}
SERVICES = pytest.mark.parametrize("settings_cls", list(OWN), ids=lambda c: c.__name__)


def production(settings_cls: type[ServiceSettings], **changes: Any) -> ServiceSettings:
    return settings_cls(**{**COMMON, **OWN[settings_cls], **changes})


@SERVICES
def test_production_settings_without_development_values_are_accepted(settings_cls):
    assert production(settings_cls).environment == "production"


@SERVICES
def test_production_refuses_sqlite(settings_cls):
    with pytest.raises(ValidationError, match="SOCLE_DATABASE_URL: use PostgreSQL"):
        production(settings_cls, database_url="sqlite+aiosqlite:///var/socle.db")
    assert settings_cls(database_url="sqlite+aiosqlite:///var/socle.db").environment == (
        "development"
    )


@SERVICES
def test_production_refuses_an_issuer_not_on_https(settings_cls):
    with pytest.raises(ValidationError, match="SOCLE_ISSUER must be an https:// URL"):
        production(settings_cls, issuer="http://login.vevey.ch")
    assert settings_cls(issuer="http://localhost:8001").environment == "development"


def test_seed_demo_refuses_to_run_in_production(tmp_path):
    from socle.opcli_services import Services

    values = {**COMMON, **OWN[IdentitySettings]}
    env = {
        f"SOCLE_{name.upper()}": str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in values.items()
    }
    output = tmp_path / "credentials.json"
    done = Services(None, environ=env).run("identity", "seed-demo", "--output", str(output))
    assert done.returncode == 1
    assert "refuses to run with SOCLE_ENVIRONMENT=production" in done.stderr
    assert not output.exists()  # nothing seeded, no database touched
