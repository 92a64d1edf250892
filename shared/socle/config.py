"""Settings every service shares, read from ``SOCLE_*`` environment variables."""

from __future__ import annotations

import sys
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound="ServiceSettings")


class ServiceSettings(BaseSettings):
    """Base settings: each service subclasses this and adds its own."""

    model_config = SettingsConfigDict(env_prefix="SOCLE_", extra="ignore")

    environment: str = "development"
    """``development`` or ``production``; production refuses development defaults."""
    database_url: str = "sqlite+aiosqlite:///var/socle.db"
    nats_url: str = "nats://127.0.0.1:4222"
    stream_name: str = "SOCLE"
    issuer: str = "http://localhost:8001"
    """Issuer whose access tokens this service accepts."""
    jwks_url: str = ""
    """Where the issuer's public keys are; defaults to ``<issuer>/jwks``."""
    audience: str = ""
    """The ``aud`` this service requires in access tokens; defaults to the service name."""
    outbox_poll_seconds: float = 1.0
    revocation_lookback_seconds: int = 3600
    """How far back a starting process reads identity's ``token.revoked`` events; at least
    the longest access-token lifetime."""
    log_level: str = "INFO"

    @property
    def resolved_jwks_url(self) -> str:
        return self.jwks_url or self.issuer.rstrip("/") + "/jwks"


def env_name(settings_cls: type[ServiceSettings], field: str) -> str:
    prefix = settings_cls.model_config.get("env_prefix", "") or ""
    return f"{prefix}{field}".upper()


def load_settings(settings_cls: type[S], **overrides: object) -> S:
    """Read settings or stop with one line per bad variable, naming it and what is expected."""
    try:
        return settings_cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            print(
                f"configuration error: {env_name(settings_cls, field)}: {error['msg']}",
                file=sys.stderr,
            )
        raise SystemExit(2) from None
