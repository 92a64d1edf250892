"""Login sessions and what follows a login: the browser's session cookie, whether the
person must log in again, the authorization endpoint, the consent and account-selection pages
between login and the code, and the code itself."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from itsdangerous import BadSignature
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import utcnow
from socle_identity import consent, hints
from socle_identity import scopes as sc
from socle_identity.authrequest import AuthRequest, validate_request
from socle_identity.codes import CodeRequest, create_code
from socle_identity.models import Client, LoginSession, User
from socle_identity.passwords import digest
from socle_identity.provider import ACR_LOW, ACR_SUBSTANTIAL, Provider


async def current_session(
    provider: Provider, session: AsyncSession, cookie: str | None
) -> LoginSession | None:
    if not cookie:
        return None
    try:
        session_id = provider.signer.loads(cookie, salt="session")
    except BadSignature:
        return None
    row = await session.get(LoginSession, digest(str(session_id)))
    if row is None or row.expires_at <= utcnow():
        return None
    return row


def needs_login(
    request: AuthRequest, client: Client, login: LoginSession | None, user: User | None
) -> bool:
    if login is None or user is None or login.tenant != client.tenant:
        return True
    if "login" in request.prompt:
        return True
    if request.max_age is not None and utcnow() - login.auth_time > timedelta(
        seconds=request.max_age
    ):
        return True
    wants_substantial = ACR_SUBSTANTIAL in request.acr_values
    return wants_substantial and login.acr != ACR_SUBSTANTIAL and user.totp_confirmed


@dataclass
class Outcome:
    """Where to send the browser, and the session cookie to set (if a login happened)."""

    redirect: str
    session_token: str | None = None


CONSENT_PAGE = "consent"
SELECT_PAGE = "select-account"


def page_url(provider: Provider, page: str, request: AuthRequest, login_id: str) -> str:
    """A page between login and the code (consent, account selection): the signed request,
    bound to the browser's login session."""
    token = provider.signer.dumps({"request": asdict(request), "sid": login_id}, salt=page)
    return f"/{page}?{urlencode({'request': token})}"


def success_url(provider: Provider, request: AuthRequest, code: str) -> str:
    params = {"code": code, "iss": provider.issuer}
    if request.state:
        params["state"] = request.state
    sep = "&" if "?" in request.redirect_uri else "?"
    return f"{request.redirect_uri}{sep}{urlencode(params)}"


def granted_scopes(request: AuthRequest, user: User) -> list[str]:
    """The scopes a code for this request and person carries."""
    return sc.for_user(request.scopes, user.roles)


async def code_for(
    provider: Provider,
    session: AsyncSession,
    request: AuthRequest,
    client: Client,
    user: User,
    *,
    auth_time: datetime,
    acr: str,
    amr: list[str],
    session_id: str,
) -> str:
    code = await create_code(
        provider,
        session,
        CodeRequest(
            client=client,
            user=user,
            redirect_uri=request.redirect_uri,
            scopes=granted_scopes(request, user),
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
            auth_time=auth_time,
            acr=acr,
            amr=amr,
            session_id=session_id,
        ),
    )
    return success_url(provider, request, code)


async def authorize(
    provider: Provider, params: Mapping[str, str], cookie: str | None
) -> tuple[AuthRequest, Client, Outcome | None]:
    """The authorization endpoint: a redirect when the browser's session suffices, else None
    (the login form is shown)."""
    async with provider.sessions() as session, session.begin():
        request, client = await validate_request(session, params)
        login = await current_session(provider, session, cookie)
        user = await session.get(User, login.user_id) if login else None
        other_person = False
        if params.get("id_token_hint"):
            hint = await hints.read_hint(provider, session, params["id_token_hint"])
            if hint is None or hint.client_id != client.client_id:
                raise request.redirect_error(
                    InvalidRequestError(
                        description="id_token_hint is not an ID token issued to this client."
                    )
                )
            other_person = user is None or not await hints.names(
                provider, session, hint, client, user
            )
        if not other_person and not needs_login(request, client, login, user):
            assert login is not None and user is not None
            if "select_account" in request.prompt:
                return request, client, Outcome(page_url(provider, SELECT_PAGE, request, login.id))
            return request, client, await proceed(provider, session, request, client, login, user)
        if "none" in request.prompt:
            raise request.redirect_error(
                OAuth2Error(error="login_required", description="The person must log in.")
            )
        return request, client, None


async def proceed(
    provider: Provider,
    session: AsyncSession,
    request: AuthRequest,
    client: Client,
    login: LoginSession,
    user: User,
) -> Outcome:
    """The person is logged in: the consent page when it is needed, else the code."""
    if await consent.needed(
        session,
        prompt=request.prompt,
        user_id=user.id,
        client_id=client.client_id,
        scopes=granted_scopes(request, user),
    ):
        if "none" in request.prompt:
            raise request.redirect_error(
                OAuth2Error(error="consent_required", description="The person must consent.")
            )
        return Outcome(page_url(provider, CONSENT_PAGE, request, login.id))
    url = await code_for(
        provider,
        session,
        request,
        client,
        user,
        auth_time=login.auth_time,
        acr=login.acr,
        amr=list(login.amr),
        session_id=login.id,
    )
    return Outcome(url)


async def finish_login(
    provider: Provider,
    session: AsyncSession,
    request: AuthRequest,
    client: Client,
    user: User,
    amr: list[str],
) -> Outcome:
    now = utcnow()
    acr = ACR_SUBSTANTIAL if "otp" in amr else ACR_LOW
    session_id = secrets.token_urlsafe(32)
    login = LoginSession(
        id=digest(session_id),
        user_id=user.id,
        tenant=user.tenant,
        auth_time=now,
        acr=acr,
        amr=amr,
        expires_at=now + timedelta(seconds=provider.settings.session_ttl),
    )
    session.add(login)
    user.failed_logins = 0
    user.locked_until = None
    outcome = await proceed(provider, session, request, client, login, user)
    return Outcome(outcome.redirect, provider.signer.dumps(session_id, salt="session"))
