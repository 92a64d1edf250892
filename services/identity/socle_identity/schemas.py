"""Request and response bodies of the admin API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class TenantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: str = Field(description="Short lower-case name of the commune, e.g. 'vevey'.")
    name: str = Field(description="Display name, e.g. 'Commune de Vevey'.", max_length=200)


class TenantOut(BaseModel):
    slug: str
    name: str
    created_at: datetime


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    client_type: Literal["confidential", "public"] = "confidential"
    redirect_uris: list[str] = Field(default_factory=list)
    post_logout_redirect_uris: list[str] = Field(default_factory=list)
    scopes: list[str] = Field(default_factory=lambda: ["openid"])
    grant_types: list[str] = Field(default_factory=lambda: ["authorization_code"])
    token_endpoint_auth_method: (
        Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"] | None
    ) = None
    jwks: dict[str, Any] | None = Field(
        default=None, description="Public keys (JWK Set) for private_key_jwt."
    )
    subject_type: Literal["public", "pairwise"] = Field(
        default="public",
        description="pairwise: the client sees a sub of its own sector, unlinkable elsewhere.",
    )
    sector_identifier: str | None = Field(
        default=None,
        max_length=255,
        description="Clients sharing a sector see the same pairwise sub (default: the host "
        "of the redirect URIs).",
    )
    roles: list[str] = Field(
        default_factory=list, description="Roles carried by client-credentials tokens."
    )
    signing_alg: Literal["ES256", "RS256"] = "ES256"
    access_token_ttl: int | None = Field(default=None, description="Seconds; default applies.")
    refresh_token_ttl: int | None = Field(default=None, description="Seconds; default applies.")


class ClientOut(BaseModel):
    client_id: str
    tenant: str
    name: str
    client_type: Literal["confidential", "public"]
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    scopes: list[str]
    grant_types: list[str]
    token_endpoint_auth_method: str
    roles: list[str]
    signing_alg: str
    access_token_ttl: int | None
    refresh_token_ttl: int | None
    subject_type: str
    sector_identifier: str | None
    enabled: bool = Field(description="A disabled client gets no token; its tokens are refused.")
    created_at: datetime


class ClientCreated(ClientOut):
    client_secret: str | None = Field(
        description="Shown once; store it in the app's secret store. None for public clients."
    )


class ClientList(BaseModel):
    items: list[ClientOut]


class ClientPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(
        description="false: the client gets no more tokens and every token it holds is "
        "refused at once; true: it may get tokens again (the old ones stay refused)."
    )


class SecretRotation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    revoke_tokens: bool = Field(
        default=False,
        description="Also refuse every token issued to the client until now (a leaked "
        "secret): access tokens everywhere, refresh tokens here.",
    )


class SecretRotated(BaseModel):
    client_id: str
    client_secret: str = Field(description="Shown once; the previous secret no longer works.")
    tokens_revoked: bool


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    roles: list[Literal["citizen", "mediator", "agent", "admin"]] = Field(
        default_factory=lambda: ["agent"]  # type: ignore[arg-type]
    )
    given_name: str = Field(default="", max_length=200)
    family_name: str = Field(default="", max_length=200)
    locale: Literal["fr", "de", "it", "en"] = "fr"


class UserOut(BaseModel):
    id: str
    tenant: str
    email: str
    roles: list[str]
    given_name: str
    family_name: str
    locale: str
    email_verified: bool
    second_factor: bool
    created_at: datetime


class FederationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200, description="Shown on the login page, e.g. 'AGOV'.")
    issuer: str = Field(max_length=500, description="The upstream provider's issuer URL.")
    client_id: str = Field(max_length=255)
    client_secret: str = Field(max_length=1024, description="Stored encrypted; never shown.")
    scopes: str = Field(default="openid email profile", max_length=255)


class FederationOut(BaseModel):
    name: str
    issuer: str
    client_id: str
    scopes: str
    redirect_uri: str = Field(description="Register this at the upstream provider.")


class TotpStarted(BaseModel):
    secret: str
    otpauth_uri: str


class TotpConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=16)


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(description="Each works once; shown only now.")
