"""Access-token verification against the issuer's JWKS, and the ``require_scope`` dependency."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import structlog
from fastapi import Depends, Request

from socle.metrics import JWKS_FETCH_FAILURES
from socle.problems import Forbidden, Unauthorized
from socle.revocation import DenyList

log = structlog.get_logger("socle.auth")

ALLOWED_ALGORITHMS = ("ES256", "ES384", "RS256", "PS256", "EdDSA")
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")
STAFF_ROLES = ("agent", "admin")


@dataclass(frozen=True)
class Principal:
    """Who is calling: from a verified access token."""

    subject: str
    tenant: str
    client_id: str
    scopes: frozenset[str]
    roles: frozenset[str] = frozenset()
    claims: dict[str, Any] = field(default_factory=dict, compare=False)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_client(self) -> bool:
        """A client acting for itself (client credentials: ``sub`` is the client id)."""
        return self.subject == self.client_id

    @property
    def is_staff(self) -> bool:
        """A person working for the commune (role ``agent`` or ``admin``)."""
        return not self.is_client and self.has_role(*STAFF_ROLES)

    @property
    def commune_wide(self) -> bool:
        """May read and act on every record of the tenant (staff, or a client for itself)."""
        return self.is_client or self.is_staff

    @property
    def owner(self) -> str | None:
        """The subject whose records alone this caller reaches; ``None`` when commune-wide.

        Services filter every read and action by it: a citizen's token reaches only the
        citizen's own records, anything else answers 404."""
        return None if self.commune_wide else self.subject


class InvalidToken(Unauthorized):
    code = "invalid-token"

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail,
            headers={
                "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{detail}"'
            },
        )


class JWKSCache:
    """The issuer's public keys, fetched once and refetched (at most every
    ``min_refresh_seconds``) when a token names a ``kid`` we do not know."""

    def __init__(
        self,
        url: str,
        *,
        ttl_seconds: float = 3600.0,
        min_refresh_seconds: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self.ttl_seconds = ttl_seconds
        self.min_refresh_seconds = min_refresh_seconds
        self._client = client
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def _fetch(self) -> None:
        client = self._client or httpx.AsyncClient(timeout=5.0)
        try:
            response = await client.get(self.url)
            response.raise_for_status()
            document = response.json()
        finally:
            if self._client is None:
                await client.aclose()
        keys: dict[str, jwt.PyJWK] = {}
        for jwk in document.get("keys", []):
            if jwk.get("use", "sig") != "sig" or "kid" not in jwk:
                continue
            try:
                keys[jwk["kid"]] = jwt.PyJWK(jwk)
            except jwt.PyJWKError:
                log.warning("jwks_key_skipped", kid=jwk.get("kid"))
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def get(self, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        if kid in self._keys and now - self._fetched_at < self.ttl_seconds:
            return self._keys[kid]
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            stale = kid not in self._keys or age >= self.ttl_seconds
            if stale and age >= self.min_refresh_seconds:
                try:
                    await self._fetch()
                except (httpx.HTTPError, ValueError) as exc:
                    JWKS_FETCH_FAILURES.inc()
                    log.warning("jwks_fetch_failed", url=self.url, error=repr(exc))
            return self._keys.get(kid)


VERIFIED_TOKENS = 10_000
"""Tokens whose verification a :class:`TokenVerifier` remembers (the most recent)."""


class TokenVerifier:
    """Checks signature, algorithm, type, issuer, audience, lifetime and the Socle claims.

    A token that passed is remembered (``max_remembered`` at most, until it expires), so a
    client sending the same token again costs no signature check: its lifetime and the
    deny list are still checked on every request, so an expired or revoked token is refused
    as soon as it would be without the memory."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks: JWKSCache,
        leeway_seconds: int = 30,
        deny: DenyList | None = None,
        max_remembered: int = VERIFIED_TOKENS,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks = jwks
        self.leeway_seconds = leeway_seconds
        self.deny = deny if deny is not None else DenyList()
        self.max_remembered = max_remembered
        self._verified: dict[str, tuple[float, Principal]] = {}

    async def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            until, principal = known
            if time.time() < until:
                if self.deny.refuses(principal.tenant, principal.claims):
                    raise InvalidToken("The access token has been revoked.")
                return principal
            del self._verified[token]
        principal = await self._verify(token)
        self._remember(token, principal)
        return principal

    def _remember(self, token: str, principal: Principal) -> None:
        exp = principal.claims.get("exp")
        if self.max_remembered <= 0 or not isinstance(exp, int | float):
            return
        if len(self._verified) >= self.max_remembered:
            now = time.time()
            self._verified = {t: e for t, e in self._verified.items() if e[0] > now}
            while len(self._verified) >= self.max_remembered:  # the oldest go first
                del self._verified[next(iter(self._verified))]
        # PyJWT accepts a token until exp + leeway: remember it exactly as long.
        self._verified[token] = (float(exp) + self.leeway_seconds, principal)

    async def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("The access token is not a well-formed JWT.") from exc
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise InvalidToken(f"Tokens signed with alg {alg!r} are not accepted.")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidToken("The token is not an access token (typ must be at+jwt).")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("The token header has no kid.")
        key = await self.jwks.get(kid)
        if key is None:
            raise InvalidToken("The token was signed with a key the issuer does not publish.")
        if key.algorithm_name != alg:
            raise InvalidToken("The token's alg does not match its key.")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("The access token has expired.") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken(f"The access token is not meant for {self.audience}.") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("The access token comes from an issuer we do not trust.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidToken("The access token is not valid yet.") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"The access token is invalid: {exc}.") from exc
        tenant = claims.get("tenant")
        if not isinstance(tenant, str) or not tenant:
            raise InvalidToken("The access token carries no tenant.")
        if self.deny.refuses(tenant, claims):
            raise InvalidToken("The access token has been revoked.")
        scope = claims.get("scope", "")
        roles = claims.get("roles", [])
        return Principal(
            subject=str(claims["sub"]),
            tenant=tenant,
            client_id=str(claims.get("client_id", "")),
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            roles=frozenset(r for r in roles if isinstance(r, str))
            if isinstance(roles, list)
            else frozenset(),
            claims=claims,
        )


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "Send an access token from the identity service: Authorization: Bearer <token>.",
            code="missing-token",
            headers={"WWW-Authenticate": 'Bearer realm="socle"'},
        )
    return token.strip()


def require_scope(*scopes: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that verifies the bearer token and requires every scope in ``scopes``."""

    async def dependency(request: Request) -> Principal:
        verifier: TokenVerifier = request.app.state.verifier
        principal = await verifier.verify(bearer_token(request))
        missing = [s for s in scopes if s not in principal.scopes]
        if missing:
            needed = " ".join(missing)
            raise Forbidden(
                f"The access token lacks the scope {needed}; ask for it when requesting the token.",
                code="insufficient-scope",
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'
                },
            )
        request.state.principal = principal
        return principal

    setattr(dependency, "__socle_scopes__", scopes)  # noqa: B010 (read by socle.openapi)
    return dependency


def principal_dep(*scopes: str) -> Any:
    """``Annotated`` metadata: ``Annotated[Principal, principal_dep("payments:read")]``."""
    return Depends(require_scope(*scopes))


class CommuneWideOnly(Forbidden):
    code = "commune-wide-only"


def require_commune_wide(scope: str, reach: str) -> Callable[[Request], Awaitable[Principal]]:
    """``scope``, and a caller acting for the whole commune (staff, or a client for itself);
    ``reach`` says what a person's token reaches instead ("that person's payments")."""
    verify = require_scope(scope)

    async def dependency(request: Request) -> Principal:
        principal = await verify(request)
        if not principal.commune_wide:
            raise CommuneWideOnly(
                "Only the commune's staff (role agent or admin) or its services (a client "
                f"token) may do this; a person's token reaches only {reach}."
            )
        return principal

    setattr(dependency, "__socle_scopes__", (scope,))  # noqa: B010 (read by socle.openapi)
    return dependency
