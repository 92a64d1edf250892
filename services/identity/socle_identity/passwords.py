"""Argon2id password hashes, and SHA-256 digests for high-entropy secrets."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10


class Passwords:
    """Hashes and checks passwords; checks against a dummy hash when the account is unknown,
    so response time does not reveal which e-mail addresses have an account."""

    def __init__(self, *, time_cost: int = 3, memory_kib: int = 65536) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False


def digest(secret: str) -> str:
    """SHA-256 of a random secret (codes, refresh tokens, client secrets)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_digest(stored: str | None, secret: str) -> bool:
    return stored is not None and hmac.compare_digest(stored, digest(secret))


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
