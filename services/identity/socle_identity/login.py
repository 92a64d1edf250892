"""Password and TOTP login with throttling: failures count towards a temporary lockout, and
a second factor is asked for when the person has one (a TOTP code works once)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

import structlog
from itsdangerous import BadSignature, SignatureExpired

from socle.db import read_only, utcnow
from socle_identity import directory
from socle_identity.authrequest import AuthRequest, PageError, asdict_params, validate_request
from socle_identity.errors import LoginRefused
from socle_identity.models import User
from socle_identity.provider import Provider
from socle_identity.sessions import Outcome, finish_login
from socle_identity.totp import check_second_factor

log = structlog.get_logger("socle_identity.login")

PENDING_MAX_AGE = 300


def _locked_minutes(user: User) -> int:
    if user.locked_until and user.locked_until > utcnow():
        return max(1, int((user.locked_until - utcnow()).total_seconds() // 60) + 1)
    return 0


def _record_failure(provider: Provider, user: User) -> None:
    user.failed_logins += 1
    if user.failed_logins >= provider.settings.login_max_failures:
        log.warning(
            "account_locked", tenant=user.tenant, minutes=provider.settings.lockout_seconds // 60
        )
        user.locked_until = utcnow() + timedelta(seconds=provider.settings.lockout_seconds)
        user.failed_logins = 0


async def password_login(
    provider: Provider, request: AuthRequest, email: str, password: str
) -> Outcome | str:
    """Check the password. Returns the redirect, or a signed pending token when a second
    factor is required. Failures are committed (throttling) before the refusal is raised.

    Argon2 takes tens of milliseconds and, under a burst, queues for its threads: the
    password is checked with no transaction open, so waiting logins hold no database
    connection (nor SQLite's write lock) that the rest of the service needs."""
    async with provider.sessions() as session, session.begin():
        await read_only(session)
        _, client = await validate_request(session, asdict_params(request))
        user = await directory.find_user(session, tenant=client.tenant, email=email.strip())
        user_id, stored = (user.id, user.password_hash) if user else (None, None)
    ok = await provider.passwords.verify(stored, password)
    if user_id is None:
        raise LoginRefused("invalid_credentials")
    refusal: LoginRefused | None = None
    async with provider.sessions() as session:
        async with session.begin():
            request, client = await validate_request(session, asdict_params(request))
            user = await session.get(User, user_id, with_for_update=True)
            if user is None or user.password_hash != stored:  # gone or changed meanwhile
                refusal = LoginRefused("invalid_credentials")
            elif minutes := _locked_minutes(user):
                refusal = LoginRefused("locked", minutes)
            elif not ok:
                _record_failure(provider, user)
                minutes = _locked_minutes(user)
                refusal = (
                    LoginRefused("locked", minutes)
                    if minutes
                    else LoginRefused("invalid_credentials")
                )
            elif user.totp_confirmed:
                return provider.signer.dumps(
                    {"uid": user.id, "request": asdict(request)}, salt="totp"
                )
            else:
                return await finish_login(provider, session, request, client, user, ["pwd"])
        assert refusal is not None
        raise refusal


async def totp_login(provider: Provider, pending: str, code: str) -> Outcome:
    try:
        data = provider.signer.loads(pending, salt="totp", max_age=PENDING_MAX_AGE)
    except (BadSignature, SignatureExpired) as exc:
        raise PageError("invalid_request", "The login form has expired; start again.") from exc
    refusal: LoginRefused | None = None
    async with provider.sessions() as session:
        async with session.begin():
            request, client = await validate_request(
                session, asdict_params(AuthRequest(**data["request"]))
            )
            user = await session.get(User, str(data["uid"]), with_for_update=True)
            if user is None or not user.totp_secret:
                raise PageError("invalid_request", "The login form has expired; start again.")
            if minutes := _locked_minutes(user):
                refusal = LoginRefused("locked", minutes)
            elif check_second_factor(user, code):
                return await finish_login(provider, session, request, client, user, ["pwd", "otp"])
            else:
                _record_failure(provider, user)
                minutes = _locked_minutes(user)
                refusal = (
                    LoginRefused("locked", minutes) if minutes else LoginRefused("invalid_code")
                )
        raise refusal
