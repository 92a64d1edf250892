"""Argon2id password hashes, and SHA-256 digests for high-entropy secrets."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
T = TypeVar("T")


class Passwords:
    """Hashes and checks passwords; checks against a dummy hash when the account is unknown,
    so response time does not reveal which e-mail addresses have an account.

    Argon2id takes tens of milliseconds of CPU by design: it runs in a bounded pool of
    ``threads`` threads (argon2 releases the GIL), never on the event loop, so a burst of
    logins queues there while health checks and other requests are still answered."""

    def __init__(self, *, time_cost: int = 3, memory_kib: int = 65536, threads: int = 2) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="argon2")
        self.in_flight = 0
        """Hashes queued or running in the pool."""

    async def _off_loop(self, work: Callable[..., T], *args: Any) -> T:
        self.in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)
        finally:
            self.in_flight -= 1

    async def hash(self, password: str) -> str:
        return await self._off_loop(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        return await self._off_loop(self._verify, stored, password)

    def _verify(self, stored: str | None, password: str) -> bool:
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
