"""Settings refuse what is unsafe in production and say which variable to fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from socle_notify.settings import NotifySettings


def test_production_refuses_development_defaults():
    with pytest.raises(ValidationError) as caught:
        NotifySettings(environment="production")
    message = str(caught.value)
    assert "SOCLE_SMS_PROVIDER" in message
    assert "SOCLE_MAIL_FROM" in message
    assert "SOCLE_DATABASE_URL" in message


def test_http_sms_needs_a_gateway_url():
    with pytest.raises(ValidationError, match="SOCLE_SMS_GATEWAY_URL"):
        NotifySettings(sms_provider="http")


def test_production_with_real_settings_is_accepted():
    settings = NotifySettings(
        environment="production",
        sms_provider="http",
        sms_gateway_url="https://sms.example.ch",
        mail_from="Commune de Vevey <noreply@vevey.ch>",
        database_url="postgresql+asyncpg://notify@db/notify",
        issuer="https://login.vevey.ch",
        tenant_operations_emails={"vevey": "it@vevey.ch"},
        operations_email="ops@socle.ch",
    )
    assert settings.operations_address("vevey") == "it@vevey.ch"
    assert settings.operations_address("montreux") == "ops@socle.ch"


def test_operations_addresses_are_checked_at_start():
    with pytest.raises(ValidationError, match="SOCLE_TENANT_OPERATIONS_EMAILS\\[vevey\\]"):
        NotifySettings(tenant_operations_emails={"vevey": "not an address"})
