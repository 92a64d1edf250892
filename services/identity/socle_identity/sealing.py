"""Secrets at rest: the provider's private signing keys are sealed with AES-256-GCM under a
key-encryption key (KEK) from the settings, never stored in clear.

A sealed value reads ``kek1:<key id>:<base64 nonce + ciphertext>``. The key id is a short
digest of the KEK (it names which KEK sealed a row, so a wrong KEK is reported as such, and a
half-done rotation can resume); the row's ``kid`` is bound as associated data, so a sealed
key cannot be moved to another row.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "kek1"
PLAINTEXT_MARK = "-----BEGIN"


class KeyEncryptionError(RuntimeError):
    """A sealed key cannot be opened with the configured key-encryption key(s)."""


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
                "a signing key is stored unencrypted; start the service once to encrypt it"
            )
        kek = self._kek_for(by)
        if kek is None:
            raise KeyEncryptionError(
                f"the signing keys are encrypted with another key-encryption key (key id {by}), "
                f"not with SOCLE_KEY_ENCRYPTION_KEY (key id {self.current_id}): set it to the "
                "key they were encrypted with (after rotate-kek, the new one)"
            )
        blob = base64.urlsafe_b64decode(stored.split(":", 2)[2].encode())
        try:
            return AESGCM(kek).decrypt(blob[:12], blob[12:], context.encode()).decode()
        except InvalidTag as exc:
            raise KeyEncryptionError(
                f"a signing key (kid {context}) does not decrypt with the key-encryption key "
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
