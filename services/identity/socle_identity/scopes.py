"""Scopes of the platform, the audience each belongs to, grants and client types, and which
role may receive which scope."""

from __future__ import annotations

from collections.abc import Iterable

SERVICE_SCOPES: dict[str, str] = {
    "identity:admin": "socle-identity",
    "payments:read": "socle-payment",
    "payments:write": "socle-payment",
    "payments:admin": "socle-payment",
    "documents:read": "socle-storage",
    "documents:write": "socle-storage",
    "notifications:read": "socle-notify",
    "notifications:send": "socle-notify",
    "notifications:admin": "socle-notify",
    "procedures:read": "socle-procedures",
    "procedures:write": "socle-procedures",
    "procedures:admin": "socle-procedures",
}
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
ALL_SCOPES = (*OIDC_SCOPES, *SERVICE_SCOPES)
"""Scopes a client may be registered with (and so ask for)."""
ACCOUNT_SCOPE = "identity:account"
"""Changes one's own account (deletion, second factor). Never registered on a client and never
granted by ``/authorize`` or ``/token``: only identity's own account endpoint issues it."""
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
ASSERTION_ALGS = ("ES256", "RS256", "PS256")
SUBJECT_TYPES = ("public", "pairwise")
ROLES = ("citizen", "mediator", "agent", "admin")
IDENTITY_AUDIENCE = "socle-identity"
DEFAULT_CODE_SCOPES = ("openid",)
"""What an authorization request without ``scope`` asks for."""

PERSONAL_SCOPES = (
    *OIDC_SCOPES,
    "payments:read",
    "payments:write",
    "documents:read",
    "documents:write",
    "procedures:read",
    "procedures:write",
    "notifications:read",
)
"""What a person may act on for themself (services limit it to the person's own records)."""


def is_admin_scope(scope: str) -> bool:
    return scope.endswith(":admin")


ROLE_SCOPES: dict[str, frozenset[str]] = {
    "citizen": frozenset(PERSONAL_SCOPES),
    "mediator": frozenset(PERSONAL_SCOPES),
    "agent": frozenset(s for s in ALL_SCOPES if not is_admin_scope(s)),
    "admin": frozenset(ALL_SCOPES),
}
"""Which scopes a person with each role may receive; a person gets the union over their
roles (and never more than the client is registered for)."""


def audiences(scopes: Iterable[str]) -> list[str]:
    """Audience of every service whose scopes are granted; identity for ``openid``
    (userinfo) and ``identity:account``."""
    out: list[str] = []
    for scope in scopes:
        aud = SERVICE_SCOPES.get(scope) or (
            IDENTITY_AUDIENCE if scope in ("openid", ACCOUNT_SCOPE) else None
        )
        if aud and aud not in out:
            out.append(aud)
    return out


def split(scope: str | None) -> list[str]:
    out: list[str] = []
    for item in (scope or "").split():
        if item not in out:
            out.append(item)
    return out


def allowed_for_roles(roles: Iterable[str]) -> frozenset[str]:
    """Every scope a person with these roles may receive (the OpenID scopes at least)."""
    allowed: set[str] = set(OIDC_SCOPES)
    for role in roles:
        allowed |= ROLE_SCOPES.get(role, frozenset())
    return frozenset(allowed)


def for_user(requested: Iterable[str], roles: Iterable[str]) -> list[str]:
    """The requested scopes a person may carry, in the order asked; the others are dropped
    (the token response's ``scope`` tells the client what it got)."""
    allowed = allowed_for_roles(roles)
    return [s for s in requested if s in allowed]


def default_client_scopes(client_scopes: Iterable[str]) -> list[str]:
    """What a client-credentials request without ``scope`` gets: the client's service
    scopes except the administrative ones, which must be named."""
    return [s for s in client_scopes if s in SERVICE_SCOPES and not is_admin_scope(s)]
