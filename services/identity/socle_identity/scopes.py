"""Scopes of the platform, the audience each belongs to, grants and client types."""

from __future__ import annotations

from collections.abc import Iterable

SERVICE_SCOPES: dict[str, str] = {
    "identity:admin": "socle-identity",
    "payments:read": "socle-payment",
    "payments:write": "socle-payment",
    "documents:read": "socle-storage",
    "documents:write": "socle-storage",
    "notifications:send": "socle-notify",
    "notifications:admin": "socle-notify",
    "procedures:read": "socle-procedures",
    "procedures:write": "socle-procedures",
    "procedures:admin": "socle-procedures",
}
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
ALL_SCOPES = (*OIDC_SCOPES, *SERVICE_SCOPES)
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
ASSERTION_ALGS = ("ES256", "RS256", "PS256")
SUBJECT_TYPES = ("public", "pairwise")
ROLES = ("citizen", "agent", "admin")
IDENTITY_AUDIENCE = "socle-identity"


def audiences(scopes: Iterable[str]) -> list[str]:
    """Audience of every service whose scopes are granted; identity for ``openid``
    (userinfo)."""
    out: list[str] = []
    for scope in scopes:
        aud = SERVICE_SCOPES.get(scope) or (IDENTITY_AUDIENCE if scope == "openid" else None)
        if aud and aud not in out:
            out.append(aud)
    return out


def split(scope: str | None) -> list[str]:
    out: list[str] = []
    for item in (scope or "").split():
        if item not in out:
            out.append(item)
    return out


def for_user(requested: Iterable[str], roles: Iterable[str]) -> list[str]:
    """Scopes a person may carry: ``*:admin`` scopes only for the ``admin`` role."""
    is_admin = "admin" in set(roles)
    return [s for s in requested if is_admin or not s.endswith(":admin")]
