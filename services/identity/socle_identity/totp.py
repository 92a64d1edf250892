"""TOTP second factor: checking a code (each accepted once), recovery codes, and
enrolment."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from typing import Any

import pyotp

from socle_identity import directory
from socle_identity.errors import TotpAlreadyActive, TotpCodeInvalid, TotpNotStarted
from socle_identity.models import User
from socle_identity.passwords import digest, same_digest
from socle_identity.provider import Provider


def totp_step(secret: str, code: str) -> int | None:
    """The time step whose code ``code`` is (the current one, or one step either side for
    clock drift), or None."""
    totp = pyotp.TOTP(secret)
    now = totp.timecode(datetime.now(tz=UTC))
    for step in (now, now - 1, now + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def accept_totp(user: User, code: str) -> bool:
    """A TOTP code is accepted once: a code of a time step already used (or earlier) is
    refused, so an observed code cannot be replayed within its window."""
    if not user.totp_secret:
        return False
    step = totp_step(user.totp_secret, code.strip())
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True


def check_second_factor(user: User, code: str) -> bool:
    """A TOTP code not used before, or an unused recovery code (then spent)."""
    code = code.strip().replace(" ", "")
    if user.totp_secret and code.isdigit() and len(code) == 6:
        return accept_totp(user, code)
    for stored in user.recovery_codes:
        if same_digest(stored, code.lower()):
            user.recovery_codes = [c for c in user.recovery_codes if c != stored]
            return True
    return False


async def start_totp(provider: Provider, *, tenant: str, user_id: str) -> dict[str, Any]:
    async with provider.sessions() as session, session.begin():
        user = await directory.get_user(session, tenant=tenant, user_id=user_id)
        if user.totp_confirmed:
            raise TotpAlreadyActive(
                "A second factor is already active; remove it before enrolling another."
            )
        secret = pyotp.random_base32()
        user.totp_secret = secret
        user.totp_last_step = None
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="Socle")
        return {"secret": secret, "otpauth_uri": uri}


async def confirm_totp(provider: Provider, *, tenant: str, user_id: str, code: str) -> list[str]:
    async with provider.sessions() as session, session.begin():
        user = await directory.get_user(session, tenant=tenant, user_id=user_id)
        if not user.totp_secret or user.totp_confirmed:
            raise TotpNotStarted("Start the enrolment first (POST /v1/me/totp).")
        if not accept_totp(user, code):
            raise TotpCodeInvalid(
                "The code does not match; check the device's clock and type the current code."
            )
        codes = [secrets.token_hex(5) for _ in range(10)]
        user.totp_confirmed = True
        user.recovery_codes = [digest(c) for c in codes]
        return codes
