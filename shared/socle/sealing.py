"""Secrets at rest (identity's private signing keys, payment's per-tenant provider keys) are
sealed with AES-256-GCM under a key-encryption key (KEK) from the settings
(``SOCLE_KEY_ENCRYPTION_KEY``), never stored in clear.

A sealed value reads ``kek1:<key id>:<base64 nonce + ciphertext>``. The key id is a short
digest of the KEK (it names which KEK sealed a row, so a wrong KEK is reported as such, and a
half-done rotation can resume); a ``context`` naming the row (a key's ``kid``, a tenant and
field) is bound as associated data, so a sealed value cannot be moved to another row.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, field_validator

PREFIX = "kek1"
PLAINTEXT_MARK = "-----BEGIN"


class KeyEncryptionError(RuntimeError):
    """A sealed value cannot be opened with the configured key-encryption key(s)."""


def parse_kek(value: str) -> bytes:
    """A KEK is 32 random bytes, written in URL-safe base64 (44 characters)."""
    try:
        raw = base64.urlsafe_b64decode(value.strip().encode())
    except (binascii.Error, ValueError) as exc:
        raise ValueError("must be URL-safe base64 of 32 random bytes") from exc
    if len(raw) != 32:
        raise ValueError("must be URL-safe base64 of 32 random bytes (44 characters)")
    return raw


def new_kek() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def key_id(kek: bytes) -> str:
    return hashlib.sha256(b"socle-kek-id|" + kek).hexdigest()[:12]


def is_plaintext(stored: str) -> bool:
    return stored.lstrip().startswith(PLAINTEXT_MARK)


def sealed_by(stored: str) -> str | None:
    """The key id of the KEK that sealed ``stored`` (None for an unsealed PEM)."""
    parts = stored.split(":", 2)
    return parts[1] if len(parts) == 3 and parts[0] == PREFIX else None


@dataclass(frozen=True)
class KeyEncryption:
    """Seals with the current KEK; opens with the current one or, during a rotation, the
    previous one."""

    current: bytes
    previous: bytes | None = None

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    def _kek_for(self, kid: str) -> bytes | None:
        if kid == key_id(self.current):
            return self.current
        if self.previous is not None and kid == key_id(self.previous):
            return self.previous
        return None

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.current).encrypt(nonce, plaintext.encode(), context.encode())
        blob = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{PREFIX}:{self.current_id}:{blob}"

    def open(self, stored: str, *, context: str) -> str:
        by = sealed_by(stored)
        if by is None:
            raise KeyEncryptionError(
                "a secret is stored unencrypted; start the service once to encrypt it"
            )
        kek = self._kek_for(by)
        if kek is None:
            raise KeyEncryptionError(
                f"the secrets are encrypted with another key-encryption key (key id {by}), "
                f"not with SOCLE_KEY_ENCRYPTION_KEY (key id {self.current_id}): set it to the "
                "key they were encrypted with (after rotate-kek, the new one)"
            )
        blob = base64.urlsafe_b64decode(stored.split(":", 2)[2].encode())
        try:
            return AESGCM(kek).decrypt(blob[:12], blob[12:], context.encode()).decode()
        except InvalidTag as exc:
            raise KeyEncryptionError(
                f"a sealed secret ({context}) does not decrypt with the key-encryption key "
                f"{by}: the database row was altered"
            ) from exc

    def reseal(self, stored: str, *, context: str) -> str | None:
        """``stored`` sealed with the current KEK, or None when it already is."""
        if is_plaintext(stored):
            return self.seal(stored, context=context)
        if sealed_by(stored) == self.current_id:
            self.open(stored, context=context)  # proves it is intact
            return None
        return self.seal(self.open(stored, context=context), context=context)


DEV_KEY_ENCRYPTION_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"socle development key-encryption key, never in production").digest()
).decode()
"""Seals secrets in development when ``SOCLE_KEY_ENCRYPTION_KEY`` is not set."""


class KeyEncryptionSettings(BaseModel):
    """The settings of a service that seals secrets (mixed into its settings class)."""

    key_encryption_key: str = ""
    """Key-encryption key sealing secrets in the database (32 random bytes, URL-safe base64).
    Required outside development; development uses a fixed key."""
    old_key_encryption_key: str = ""
    """The previous key-encryption key, during a rotation: values sealed with it are still
    read, and re-sealed with the new one."""

    @field_validator("key_encryption_key", "old_key_encryption_key")
    @classmethod
    def _well_formed_kek(cls, value: str) -> str:
        if value:
            parse_kek(value)
        return value.strip()

    def key_encryption(self) -> KeyEncryption:
        current = parse_kek(self.key_encryption_key or DEV_KEY_ENCRYPTION_KEY)
        previous = parse_kek(self.old_key_encryption_key) if self.old_key_encryption_key else None
        return KeyEncryption(current=current, previous=previous)

    def key_encryption_problem(self, environment: str, what: str) -> str | None:
        """Why the key-encryption key is unfit for ``environment``, or None."""
        if environment != "development" and not self.key_encryption_key:
            return (
                "SOCLE_KEY_ENCRYPTION_KEY must be set outside development (32 random bytes, "
                f"URL-safe base64): it encrypts {what} in the database"
            )
        if environment == "production" and self.key_encryption_key == DEV_KEY_ENCRYPTION_KEY:
            return "SOCLE_KEY_ENCRYPTION_KEY: the development key is refused in production"
        return None
