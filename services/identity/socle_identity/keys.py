"""Signing keys: generation, publication (JWKS), rotation without downtime.

A key goes ``next`` (published in the JWKS, not yet signing) -> ``active`` (signing) ->
``retired`` (still published until every token it signed has expired). Rotation promotes the
``next`` key, which verifiers have been able to fetch since the previous rotation, so no
token is ever signed by a key a verifier could not know.

Private keys are stored sealed with the key-encryption key (:mod:`socle.sealing`).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.auth import JWKSCache
from socle.db import read_only, utcnow
from socle.outbox import record_event
from socle.sealing import KeyEncryption, KeyEncryptionError, is_plaintext
from socle_identity import events
from socle_identity.cache import Snapshot
from socle_identity.models import Client, SigningKey

log = structlog.get_logger("socle_identity.keys")

SUPPORTED_ALGS = ("ES256", "RS256")
DEFAULT_ALG = "ES256"


def _generate(alg: str) -> tuple[str, dict[str, Any]]:
    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    elif alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:  # pragma: no cover - guarded by callers
        raise ValueError(f"unsupported algorithm {alg}")
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, dict(jwk)


def _public_jwk(jwk: dict[str, Any]) -> dict[str, Any]:
    """A published key says what it is for with ``use`` only (RFC 7517 4.3: not both)."""
    return {k: v for k, v in jwk.items() if k != "key_ops"}


def _new_key(alg: str, status: str, encryption: KeyEncryption) -> SigningKey:
    pem, jwk = _generate(alg)
    kid = f"{alg.lower()}-{secrets.token_urlsafe(12)}"
    jwk = _public_jwk(jwk) | {"kid": kid, "use": "sig", "alg": alg}
    now = utcnow()
    return SigningKey(
        kid=kid,
        alg=alg,
        status=status,
        private_key_sealed=encryption.seal(pem, context=kid),
        public_jwk=jwk,
        created_at=now,
        activated_at=now if status == "active" else None,
    )


async def _check_sealing(session: AsyncSession, encryption: KeyEncryption) -> None:
    """Seal keys stored in clear (written before keys were encrypted); refuse to go on when a
    key does not open with the configured key-encryption key."""
    rows = (await session.execute(select(SigningKey).with_for_update())).scalars().all()
    sealed = 0
    for row in rows:
        if is_plaintext(row.private_key_sealed):
            row.private_key_sealed = encryption.seal(row.private_key_sealed, context=row.kid)
            sealed += 1
        else:
            encryption.open(row.private_key_sealed, context=row.kid)
    if sealed:
        log.info("signing_keys_sealed", count=sealed, kek_id=encryption.current_id)


async def ensure_keys(
    sessions: async_sessionmaker[AsyncSession], encryption: KeyEncryption
) -> None:
    """Make sure every stored key opens with the key-encryption key (sealing those still in
    clear), and every algorithm has an active key and a published next key. Raises
    :class:`KeyEncryptionError` when the keys were sealed with another key-encryption key."""
    async with sessions() as session, session.begin():
        await _check_sealing(session, encryption)
        for alg in SUPPORTED_ALGS:
            statuses = set(
                (
                    await session.execute(
                        select(SigningKey.status).where(
                            SigningKey.alg == alg, SigningKey.status.in_(("active", "next"))
                        )
                    )
                ).scalars()
            )
            if "active" not in statuses:
                session.add(_new_key(alg, "active", encryption))
            if "next" not in statuses:
                session.add(_new_key(alg, "next", encryption))


@dataclass(frozen=True)
class Rotation:
    alg: str
    active_kid: str
    previous_kid: str | None
    next_kid: str
    previous_published_until: datetime | None


async def _retention(session: AsyncSession, default_ttls: tuple[int, ...]) -> timedelta:
    longest_client = (await session.execute(select(func.max(Client.access_token_ttl)))).scalar()
    seconds = max((*default_ttls, longest_client or 0))
    return timedelta(seconds=seconds + 60)


async def rotate(
    sessions: async_sessionmaker[AsyncSession],
    *,
    encryption: KeyEncryption,
    alg: str = DEFAULT_ALG,
    token_ttls: tuple[int, ...] = (600,),
) -> Rotation:
    """Promote the published next key, retire the active one once its tokens have expired,
    publish a new next key, and record ``key.rotated``."""
    if alg not in SUPPORTED_ALGS:
        raise ValueError(f"alg must be one of {', '.join(SUPPORTED_ALGS)}")
    await ensure_keys(sessions, encryption)
    async with sessions() as session, session.begin():
        now = utcnow()
        keys = (
            (
                await session.execute(
                    select(SigningKey)
                    .where(SigningKey.alg == alg, SigningKey.status.in_(("active", "next")))
                    .order_by(SigningKey.created_at)
                    .with_for_update()
                )
            )
            .scalars()
            .all()
        )
        actives = [k for k in keys if k.status == "active"]
        upcoming = next(k for k in keys if k.status == "next")
        until = now + await _retention(session, token_ttls)
        for old in actives:
            old.status = "retired"
            old.retire_at = until
        upcoming.status = "active"
        upcoming.activated_at = now
        fresh = _new_key(alg, "next", encryption)
        session.add(fresh)
        previous = actives[-1].kid if actives else None
        await record_event(
            session,
            events.key_rotated(
                alg=alg,
                active_kid=upcoming.kid,
                previous_kid=previous,
                next_kid=fresh.kid,
                previous_published_until=until if previous else None,
            ),
            aggregate=f"key:{alg}",
        )
        return Rotation(alg, upcoming.kid, previous, fresh.kid, until if previous else None)


def _published(now: datetime) -> Any:
    return or_(
        SigningKey.status.in_(("active", "next")),
        (SigningKey.status == "retired") & (SigningKey.retire_at > now),
    )


async def public_jwks(session: AsyncSession) -> dict[str, Any]:
    """The JWKS document: next, active and not-yet-expired retired keys."""
    rows = (
        (
            await session.execute(
                select(SigningKey).where(_published(utcnow())).order_by(SigningKey.created_at)
            )
        )
        .scalars()
        .all()
    )
    return {"keys": [_public_jwk(dict(k.public_jwk)) for k in rows]}


async def rotate_kek(sessions: async_sessionmaker[AsyncSession], encryption: KeyEncryption) -> int:
    """Re-seal every signing key with the current key-encryption key (``encryption.current``);
    keys still sealed with the previous one are opened with ``encryption.previous``. One
    transaction: a key that opens with neither stops the rotation and nothing changes.
    Returns how many keys were re-sealed (0 when the rotation was already done)."""
    if encryption.previous is None:
        raise KeyEncryptionError(
            "set SOCLE_OLD_KEY_ENCRYPTION_KEY to the key-encryption key in use now, and "
            "SOCLE_KEY_ENCRYPTION_KEY to the new one"
        )
    if encryption.previous == encryption.current:
        raise KeyEncryptionError(
            "SOCLE_OLD_KEY_ENCRYPTION_KEY and SOCLE_KEY_ENCRYPTION_KEY are the same key"
        )
    async with sessions() as session, session.begin():
        rows = (await session.execute(select(SigningKey).with_for_update())).scalars().all()
        changed = 0
        for row in rows:
            resealed = encryption.reseal(row.private_key_sealed, context=row.kid)
            if resealed is not None:
                row.private_key_sealed = resealed
                changed += 1
    return changed


class KeyRing:
    """Reads keys from the database; keeps parsed key objects by ``kid`` and the active
    signing key of each algorithm for ``cache_seconds`` (dropped at once when this process
    commits a key change). Another process's rotation reaches this one within
    ``cache_seconds``: meanwhile it signs with the key just retired, which stays published
    for the access-token lifetime plus a minute, so ``cache_seconds`` must stay under a
    minute."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        encryption: KeyEncryption,
        cache_seconds: float = 0.0,
    ) -> None:
        self.sessions = sessions
        self.encryption = encryption
        self._private: dict[str, Any] = {}
        self._public: dict[str, jwt.PyJWK] = {}
        self._active: Snapshot[str, tuple[str, Any]] = Snapshot(cache_seconds)
        self._loading: dict[tuple[str, int], asyncio.Future[tuple[str, Any]]] = {}

    def invalidate(self) -> None:
        self._active.invalidate()

    async def signing_key(self, session: AsyncSession | None, alg: str) -> tuple[str, Any]:
        """The active key for ``alg``: from memory, or read in ``session`` (or a read-only
        session of its own when None)."""
        hit = self._active.get(alg)
        if hit is not None:
            return hit
        if session is None:
            # the requests that find it missing meanwhile wait for one read, unless a change
            # was committed since that read began (then it is read again, as before)
            key = (alg, self._active.generation)
            loading = self._loading.get(key)
            if loading is None:
                loading = asyncio.ensure_future(self._read_active(alg))
                self._loading[key] = loading
                loading.add_done_callback(lambda _done: self._loading.pop(key, None))
            return await asyncio.shield(loading)
        return await self._read_active(alg, session)

    async def _read_active(self, alg: str, session: AsyncSession | None = None) -> tuple[str, Any]:
        generation = self._active.generation
        if session is None:
            async with self.sessions() as own, own.begin():
                await read_only(own)
                row = await self._active_row(own, alg)
        else:
            row = await self._active_row(session, alg)
        if row is None:
            raise RuntimeError(f"no active {alg} signing key: run the service's start-up")
        kid, sealed = row
        if kid not in self._private:
            pem = self.encryption.open(sealed, context=kid)
            self._private[kid] = serialization.load_pem_private_key(pem.encode(), password=None)
        self._active.put(alg, (kid, self._private[kid]), generation)
        return kid, self._private[kid]

    @staticmethod
    async def _active_row(session: AsyncSession, alg: str) -> Any:
        return (
            await session.execute(
                select(SigningKey.kid, SigningKey.private_key_sealed)
                .where(SigningKey.alg == alg, SigningKey.status == "active")
                .order_by(SigningKey.activated_at.desc())
                .limit(1)
            )
        ).first()

    async def verification_key(self, session: AsyncSession, kid: str) -> jwt.PyJWK | None:
        row = (
            await session.execute(
                select(SigningKey.public_jwk).where(SigningKey.kid == kid, _published(utcnow()))
            )
        ).scalar()
        if row is None:
            return None
        if kid not in self._public:
            self._public[kid] = jwt.PyJWK(dict(row))
        return self._public[kid]


class OwnKeys(JWKSCache):
    """The service's own published keys, read from its database (no HTTP to itself)."""

    def __init__(self, ring: KeyRing) -> None:
        super().__init__("local")
        self.ring = ring

    async def get(self, kid: str) -> jwt.PyJWK | None:
        async with self.ring.sessions() as session, session.begin():
            await read_only(session)
            return await self.ring.verification_key(session, kid)
