"""Settings of the identity service (environment variables ``SOCLE_*``)."""

from __future__ import annotations

from pydantic import Field, model_validator

from socle import export_parts, sealing

DEV_SECRET_KEY = "dev-only-identity-secret-change-me"
DEV_KEY_ENCRYPTION_KEY = sealing.DEV_KEY_ENCRYPTION_KEY


class IdentitySettings(export_parts.ExportPartsSettings, sealing.KeyEncryptionSettings):
    database_url: str = "sqlite+aiosqlite:///var/identity.db"
    """Where accounts, clients and signing keys are stored."""
    secret_key: str = DEV_SECRET_KEY
    """Signs browser cookies, CSRF tokens and e-mail links; production refuses the default."""
    access_token_ttl: int = 300
    """Seconds an access token lives, unless the client sets its own lifetime. It bounds how
    long a revoked token can still work at a service that missed the revocation event."""
    id_token_ttl: int = 600
    """Seconds an ID token lives."""
    refresh_token_ttl: int = 30 * 24 * 3600
    """Seconds a refresh token lives, unless the client sets its own lifetime."""
    code_ttl: int = 60
    """Seconds an authorization code may be redeemed."""
    reauth_seconds: int = 300
    """Account changes (deletion, second factor) need a login at most this many seconds old."""
    session_ttl: int = 8 * 3600
    """Seconds a browser login session lasts before the person must log in again."""
    login_max_failures: int = 5
    """Wrong passwords in a row before an account is locked."""
    lockout_seconds: int = 900
    """Seconds an account stays locked after too many wrong passwords."""
    default_locale: str = "fr"
    """Language of pages when the browser states none we speak (fr, de, it, en)."""
    platform_tenant: str = "platform"
    """Tenant whose administrators may create tenants."""
    argon2_time_cost: int = 3
    """Argon2id iterations for password hashes."""
    argon2_memory_kib: int = 65536
    """Argon2id memory (KiB) for password hashes."""
    argon2_threads: int = Field(default=2, ge=1)
    """Threads hashing passwords, off the event loop (a login burst queues there)."""
    pairwise_salt: str = "dev-only-pairwise-salt"
    """Mixed into pairwise subject identifiers; never change it once clients use them."""
    cookie_secure: bool = False
    """Mark browser cookies Secure (HTTPS only); production requires it."""
    cache_seconds: float = Field(default=5.0, ge=0, le=30)
    """Seconds a process keeps a client record and the active signing keys in memory for the
    token endpoint (0: read them on every request). A change made by this process applies at
    once; one made by another process (an admin API replica, the CLI) applies when the
    ``token.revoked`` event arrives, and in any case after this many seconds. Clients asked
    for in the last 6 x this delay are read again in batches before they expire."""
    erasure_services: list[str] = ["storage", "payment", "notify", "procedures"]
    """The services that answer ``person.erased`` to every erasure (a JSON list)."""
    erasure_answer_seconds: int = 3600
    """Seconds after which an erasure report names the services that have not answered."""
    export_services: list[str] = ["identity", "storage", "payment", "notify", "procedures"]
    """The services that write a part of every export (``person.export.ready``; a JSON list)."""
    export_answer_seconds: int = 3600
    """Seconds after which an export names the services that have not written their part."""
    export_link_seconds: int = 7 * 24 * 3600
    """Seconds the person's download link works once every part is in (the mail says
    until when); after them the link answers 410 and the parts are deleted from storage."""
    export_purge_seconds: float = 300.0
    """Seconds between two looks for expired exports to delete (0: never, for tests); the
    same pass deletes the erasure and export records past their retention."""
    erasure_record_days: int = 365
    """Days an erasure's record (who was erased, when, each service's answer) is kept as
    the proof it was done, before the purge deletes it (0: kept forever)."""
    export_record_days: int = 30
    """Days an export's record (who asked, when, each service's counts) is kept once its
    parts are deleted, or once asked when it never completed (0: kept forever)."""

    @model_validator(mode="after")
    def _require_a_key_encryption_key(self) -> IdentitySettings:
        problem = self.key_encryption_problem(self.environment, "the signing keys")
        if problem:
            raise ValueError(problem)
        return self

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32:
            problems.append(
                "SOCLE_SECRET_KEY must be set to a random value of 32+ characters in production"
            )
        if self.pairwise_salt == "dev-only-pairwise-salt":
            problems.append("SOCLE_PAIRWISE_SALT must be set to a random value in production")
        if not self.cookie_secure:
            problems.append("SOCLE_COOKIE_SECURE must be true in production")
        return problems
