"""The OpenID provider: the object its use cases share, built once per application, and the
verifier of its own access tokens.

The use cases live beside it: client authentication (:mod:`socle_identity.client_auth`),
tokens (:mod:`socle_identity.tokens`), authorization codes (:mod:`socle_identity.codes`),
the token endpoint's grants (:mod:`socle_identity.grants`), introspection, revocation and
userinfo (:mod:`socle_identity.introspection`).
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle import clock
from socle.auth import InvalidToken, Principal, TokenVerifier
from socle.db import read_only
from socle.revocation import DenyList
from socle_identity import lifecycle
from socle_identity import scopes as sc
from socle_identity.cache import ClientCache, watch_changes
from socle_identity.keys import KeyRing, OwnKeys
from socle_identity.passwords import Passwords
from socle_identity.settings import IdentitySettings

__all__ = [
    "ACR_LEVELS",
    "ACR_LOW",
    "ACR_SUBSTANTIAL",
    "Provider",
    "RevocationAwareVerifier",
]

ACR_LOW = "urn:socle:loa:low"
ACR_SUBSTANTIAL = "urn:socle:loa:substantial"
ACR_LEVELS = (ACR_LOW, ACR_SUBSTANTIAL)


class RevocationAwareVerifier(TokenVerifier):
    """Verifies the provider's own access tokens (keys from its database) and refuses
    revoked ones (by jti, session, grant or client; a disabled or deleted client) on the
    spot, from its own database."""

    def __init__(self, issuer: str, audience: str, keys: KeyRing) -> None:
        super().__init__(issuer=issuer, audience=audience, jwks=OwnKeys(keys))
        self.keys = keys

    async def verify(self, token: str) -> Principal:
        principal = await super().verify(token)
        async with self.keys.sessions() as session, session.begin():
            await read_only(session)
            reason = await lifecycle.refusal(session, principal.claims)
        if reason is not None:
            raise InvalidToken(reason)
        return principal


class ClockSigner(TimestampSigner):
    """Signs with the time of :mod:`socle.clock`, which a test moves instead of waiting: the
    age of a signed link or form is measured on the same clock as everything else."""

    def get_timestamp(self) -> int:
        return int(clock.now().timestamp())


@dataclass
class Provider:
    """Everything the use cases need, built once per application."""

    settings: IdentitySettings
    sessions: async_sessionmaker[AsyncSession]
    keys: KeyRing
    passwords: Passwords
    signer: URLSafeTimedSerializer
    verifier: TokenVerifier
    clients: ClientCache
    deny: DenyList | None = None
    """Revocations seen on the bus: another process disabling a client drops our copy."""

    @classmethod
    def build(
        cls,
        settings: IdentitySettings,
        sessions: async_sessionmaker[AsyncSession],
        deny: DenyList | None = None,
    ) -> Provider:
        keys = KeyRing(sessions, settings.key_encryption(), settings.cache_seconds)
        clients = ClientCache(sessions, settings.cache_seconds)
        watch_changes(sessions, on_clients=clients.invalidate, on_keys=keys.invalidate)
        return cls(
            settings=settings,
            sessions=sessions,
            keys=keys,
            clients=clients,
            deny=deny,
            passwords=Passwords(
                time_cost=settings.argon2_time_cost,
                memory_kib=settings.argon2_memory_kib,
                threads=settings.argon2_threads,
            ),
            signer=URLSafeTimedSerializer(
                settings.secret_key, salt="socle-identity", signer=ClockSigner
            ),
            verifier=RevocationAwareVerifier(settings.issuer, sc.IDENTITY_AUDIENCE, keys),
        )

    @property
    def issuer(self) -> str:
        return self.settings.issuer.rstrip("/")

    def token_ttls(self) -> tuple[int, ...]:
        return (self.settings.access_token_ttl, self.settings.id_token_ttl)
