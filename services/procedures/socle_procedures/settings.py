"""Settings of the procedures service (environment variables ``SOCLE_*``)."""

from __future__ import annotations

from typing import Self

from pydantic import model_validator

from socle import export_parts

DEVELOPMENT_SECRET = "development-only-secret-key-change-me-please"


class ProceduresSettings(export_parts.ExportPartsSettings):
    """Everything the procedures service and its citizen portal read from the environment."""

    database_url: str = "sqlite+aiosqlite:///var/procedures.db"
    """Where definitions, requests and portal sessions are stored."""
    public_url: str = "http://localhost:8000"
    """This service as the citizen's browser sees it (login callback, payment return)."""
    payment_url: str = "http://localhost:8002"
    """The payment service's API."""
    payment_timeout_seconds: float = 10.0
    """Time allowed for one call to the payment service."""
    storage_url: str = "http://localhost:8003"
    """The storage service's API (the citizen's documents, uploaded with their own token)."""
    storage_timeout_seconds: float = 60.0
    """Time allowed for one call to storage (an upload included)."""
    secret_key: str = DEVELOPMENT_SECRET
    """Signs the portal's short-lived login cookie; 32+ random characters in production."""
    portal_tenant: str = "demo"
    """The commune whose procedures the portal offers."""
    portal_client_id: str = ""
    """The portal's confidential OIDC client at identity; empty: nobody can log in."""
    portal_client_secret: str = ""
    """Its client secret."""
    portal_commune_name: str = "Commune de démo"
    """Shown in the header of every page."""
    portal_colour: str = "#1d4e89"
    """The commune's colour (``#rrggbb``), the header's background."""
    portal_contact_url: str = ""
    """Footer link to the commune's contact page (hidden when empty)."""
    portal_privacy_url: str = ""
    """Footer link to the commune's privacy notice (hidden when empty)."""
    portal_session_ttl: int = 28800
    """How long a portal login lasts (s)."""
    anonymise_sweep_seconds: float = 3600.0
    """How often requests of erased persons whose retention ended, and closed requests past
    their commune's retention, are anonymised; 0: never."""
    request_retention_days: int = 0
    """Days a closed request (approved, rejected, withdrawn) is kept after its submission
    before it is anonymised, for procedures without a retention of their own or of the
    commune (``PUT /v1/retention``); 0: kept until the person is erased."""

    @property
    def cookie_secure(self) -> bool:
        return self.environment != "development"

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.secret_key == DEVELOPMENT_SECRET or len(self.secret_key) < 32:
            problems.append("SOCLE_SECRET_KEY must be 32+ random characters in production")
        if not self.public_url.startswith("https://"):
            problems.append("SOCLE_PUBLIC_URL must be an https:// address in production")
        return problems

    @model_validator(mode="after")
    def _check_colour(self) -> Self:
        if len(self.portal_colour) != 7 or not self.portal_colour.startswith("#"):
            raise ValueError("SOCLE_PORTAL_COLOUR must be a #rrggbb colour")
        int(self.portal_colour[1:], 16)
        return self
