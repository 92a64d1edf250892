"""Settings every service shares, read from ``SOCLE_*`` environment variables."""

from __future__ import annotations

import sys
from typing import Self, TypeVar

from pydantic import Field, ValidationError, model_validator
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
    db_pool_size: int = Field(default=10, ge=1)
    """Connections each process keeps open to its database."""
    db_max_overflow: int = Field(default=10, ge=0)
    """Extra connections a process may open under load, closed when idle. Per process at
    most ``db_pool_size + db_max_overflow``: with N replicas of M services sharing one
    PostgreSQL, keep ``N * M * (pool + overflow)`` under its ``max_connections``."""
    db_pool_timeout: float = Field(default=3.0, gt=0)
    """Seconds a request waits for a free connection before answering 503 with Retry-After."""
    max_requests_in_flight: int = Field(default=64, ge=1)
    """Requests a process serves at once; more are answered 503 with Retry-After at once,
    so latency stays bounded under overload (health and metrics are never refused). About
    throughput times the latency to keep: 64 for about 60 requests/s and 1 s."""
    keepalive_seconds: int = Field(default=75, ge=1)
    """Seconds an idle HTTP connection is kept: longer than clients' and load balancers'."""
    shutdown_grace_seconds: int = Field(default=20, ge=1)
    """Seconds given to requests in flight when the process is asked to stop."""

    @property
    def resolved_jwks_url(self) -> str:
        return self.jwks_url or self.issuer.rstrip("/") + "/jwks"

    def production_problems(self) -> list[str]:
        """What production refuses in these settings, one line naming the variable each.

        Every service: SQLite (one process, one file: development only) and an issuer not
        on HTTPS. A service adds its own rules by overriding this and extending
        ``super().production_problems()``."""
        problems = []
        if self.database_url.startswith("sqlite"):
            problems.append("SOCLE_DATABASE_URL: use PostgreSQL in production, not SQLite")
        if not self.issuer.startswith("https://"):
            problems.append("SOCLE_ISSUER must be an https:// URL in production")
        return problems

    @model_validator(mode="after")
    def _refuse_development_values_in_production(self) -> Self:
        if self.environment == "production":
            problems = self.production_problems()
            if problems:
                raise ValueError("; ".join(problems))
        return self


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
