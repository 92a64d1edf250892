"""The pages between login and the authorization code: consent (``prompt=consent``, or a
client asking for more than the person allowed it) and account selection
(``prompt=select_account``). Each page carries the signed authorization request bound to
the browser's login session; its answer is a CSRF-protected form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749.errors import AccessDeniedError
from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy.ext.asyncio import AsyncSession

from socle_identity import consent
from socle_identity.authrequest import (
    REQUEST_MAX_AGE,
    AuthRequest,
    PageError,
    asdict_params,
    validate_request,
)
from socle_identity.models import Client, LoginSession, User
from socle_identity.provider import Provider
from socle_identity.sessions import (
    CONSENT_PAGE,
    SELECT_PAGE,
    Outcome,
    code_for,
    current_session,
    granted_scopes,
    proceed,
)


@dataclass
class Pending:
    """An authorization request waiting for the person's answer on a page."""

    request: AuthRequest
    client: Client
    user: User
    login: LoginSession


async def _pending(
    provider: Provider, session: AsyncSession, page: str, token: str, cookie: str | None
) -> Pending:
    try:
        data: dict[str, Any] = provider.signer.loads(token, salt=page, max_age=REQUEST_MAX_AGE)
    except (BadSignature, SignatureExpired) as exc:
        raise PageError("invalid_request", "This page has expired; start again.") from exc
    request, client = await validate_request(session, asdict_params(AuthRequest(**data["request"])))
    login = await current_session(provider, session, cookie)
    if login is None or login.id != data.get("sid"):
        raise PageError("login_required", "Your login has ended; start again.")
    user = await session.get(User, login.user_id)
    if user is None:
        raise PageError("login_required", "Your login has ended; start again.")
    return Pending(request, client, user, login)


@dataclass(frozen=True)
class ConsentView:
    client_name: str
    scopes: list[str]


async def consent_view(provider: Provider, token: str, cookie: str | None) -> ConsentView:
    async with provider.sessions() as session, session.begin():
        pending = await _pending(provider, session, CONSENT_PAGE, token, cookie)
        return ConsentView(pending.client.name, granted_scopes(pending.request, pending.user))


async def answer_consent(
    provider: Provider, token: str, cookie: str | None, *, allow: bool
) -> Outcome:
    """Allowed: remember the grant and send the code. Refused: ``access_denied`` to the
    client."""
    async with provider.sessions() as session, session.begin():
        pending = await _pending(provider, session, CONSENT_PAGE, token, cookie)
        request, user = pending.request, pending.user
        if not allow:
            raise request.redirect_error(
                AccessDeniedError(description="The person did not allow this application.")
            )
        await consent.remember(
            session,
            user_id=user.id,
            client_id=pending.client.client_id,
            scopes=granted_scopes(request, user),
        )
        url = await code_for(
            provider,
            session,
            request,
            pending.client,
            user,
            auth_time=pending.login.auth_time,
            acr=pending.login.acr,
            amr=list(pending.login.amr),
            session_id=pending.login.id,
        )
        return Outcome(url)


@dataclass(frozen=True)
class AccountView:
    client_name: str
    email: str
    name: str


async def account_view(provider: Provider, token: str, cookie: str | None) -> AccountView:
    async with provider.sessions() as session, session.begin():
        pending = await _pending(provider, session, SELECT_PAGE, token, cookie)
        user = pending.user
        name = f"{user.given_name} {user.family_name}".strip()
        return AccountView(pending.client.name, user.email, name)


async def choose_account(
    provider: Provider, token: str, cookie: str | None, *, keep: bool
) -> tuple[Outcome | None, AuthRequest, Client]:
    """Continue as the logged-in person (consent page or code), or None: the login form for
    another account."""
    async with provider.sessions() as session, session.begin():
        pending = await _pending(provider, session, SELECT_PAGE, token, cookie)
        request = pending.request
        request.prompt = [p for p in request.prompt if p != "select_account"]
        if not keep:
            # The login form, which never continues with the current session.
            request.prompt.append("login")
            return None, request, pending.client
        outcome = await proceed(
            provider, session, request, pending.client, pending.login, pending.user
        )
        return outcome, request, pending.client
