"""Settings every service shares, read from ``SOCLE_*`` environment variables."""

from __future__ import annotations

import sys
from typing import Self, TypeVar

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from socle.bus import StreamLimits

S = TypeVar("S", bound="ServiceSettings")


class ServiceSettings(BaseSettings):
    """Base settings: each service subclasses this and adds its own."""

    model_config = SettingsConfigDict(env_prefix="SOCLE_", extra="ignore")

    environment: str = "development"
    """``development`` or ``production``; production refuses development defaults."""
    database_url: str = "sqlite+aiosqlite:///var/socle.db"
    nats_url: str = "nats://127.0.0.1:4222"
    stream_name: str = "SOCLE"
    stream_max_age_seconds: int = Field(default=7 * 24 * 3600, ge=0)
    """How long the JetStream stream keeps events (0: forever). Longer than the longest
    outage of a consumer you want to ride out; events carry no personal data, but nothing is
    kept longer than needed."""
    stream_max_bytes: int = Field(default=1024**3, ge=-1)
    """Size beyond which the stream drops its oldest events (-1: no limit)."""
    stream_replicas: int = Field(default=1, ge=1, le=5)
    """Copies of the stream on as many NATS servers: 1 on one server, 3 in a cluster."""
    stream_duplicate_window_seconds: int = Field(default=600, ge=1)
    """A ``Nats-Msg-Id`` seen within this window is dropped as a duplicate (covers a relay
    that re-sends what it published before it could mark it)."""
    dead_letter_max_age_seconds: int = Field(default=30 * 24 * 3600, ge=0)
    """How long the dead-letter stream keeps failed events for an operator (0: forever)."""
    issuer: str = "http://localhost:8001"
    """Issuer whose access tokens this service accepts."""
    jwks_url: str = ""
    """Where the issuer's public keys are; defaults to ``<issuer>/jwks``."""
    audience: str = ""
    """The ``aud`` this service requires in access tokens; defaults to the service name."""
    outbox_poll_seconds: float = 1.0
    outbox_retention_seconds: int = Field(default=7 * 24 * 3600, ge=0)
    """How long a published outbox row is kept (to look at what was sent), then deleted;
    unpublished rows are never deleted (0: kept forever)."""
    inbox_retention_seconds: int = Field(default=30 * 24 * 3600, ge=0)
    """How long a consumer remembers an event it processed; at least the stream's
    ``stream_max_age_seconds``, or a replayed event could have a second effect (0: forever)."""
    idempotency_retention_seconds: int = Field(default=24 * 3600, ge=0)
    """How long an ``Idempotency-Key`` replays its first answer (0: forever)."""
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
    """Pause between two pruning passes (each pass deletes until nothing due is left)."""
    retention_batch: int = Field(default=1000, ge=1)
    """Rows deleted per transaction while pruning."""
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
    max_requests_in_flight: int | None = Field(default=None, ge=1)
    """Requests a process serves at once; more are answered 503 with Retry-After at once,
    so latency stays bounded under overload (health and metrics are never refused). Unset:
    ``db_pool_size + db_max_overflow`` (20 by default), one connection for each admitted
    request, so the excess is refused at once instead of queueing for a connection."""
    keepalive_seconds: int = Field(default=75, ge=1)
    """Seconds an idle HTTP connection is kept: longer than clients' and load balancers'."""
    shutdown_grace_seconds: int = Field(default=20, ge=1)
    """Seconds given to requests in flight when the process is asked to stop."""

    def requests_in_flight_limit(self) -> int:
        """``max_requests_in_flight``, or the most connections a process may hold."""
        if self.max_requests_in_flight is not None:
            return self.max_requests_in_flight
        return self.db_pool_size + self.db_max_overflow

    @model_validator(mode="after")
    def _inbox_outlives_the_stream(self) -> ServiceSettings:
        stream, inbox = self.stream_max_age_seconds, self.inbox_retention_seconds
        if inbox and (stream == 0 or inbox < stream):
            raise ValueError(
                "SOCLE_INBOX_RETENTION_SECONDS (inbox_retention_seconds) must be 0 (forever) "
                "or at least SOCLE_STREAM_MAX_AGE_SECONDS: a consumer replaying the stream "
                "would otherwise handle an event a second time"
            )
        return self

    @property
    def stream_limits(self) -> StreamLimits:
        return StreamLimits(
            max_age_seconds=float(self.stream_max_age_seconds),
            max_bytes=self.stream_max_bytes,
            replicas=self.stream_replicas,
            duplicate_window_seconds=float(self.stream_duplicate_window_seconds),
            dead_letter_max_age_seconds=float(self.dead_letter_max_age_seconds),
        )

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
            if not error["loc"]:  # a rule across settings: its message names them
                print(f"configuration error: {error['msg']}", file=sys.stderr)
                continue
            field = str(error["loc"][0])
            print(
                f"configuration error: {env_name(settings_cls, field)}: {error['msg']}",
                file=sys.stderr,
            )
        raise SystemExit(2) from None
