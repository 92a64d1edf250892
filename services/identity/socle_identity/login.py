"""Browser side of the provider: authorization requests, password and TOTP login with
throttling (a TOTP code works once), login sessions, self-registration, e-mail verification,
password reset. Logout is in ``logout``; the consent and account pages in ``prompts``."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pyotp
import structlog
from authlib.oauth2.rfc6749.errors import (
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
    UnsupportedResponseTypeError,
)
from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import utcnow
from socle.outbox import record_event
from socle.problems import DomainError
from socle_identity import consent, directory, events, hints, lifecycle
from socle_identity import scopes as sc
from socle_identity.models import Client, LoginSession, Tenant, User
from socle_identity.passwords import digest, same_digest
from socle_identity.provider import (
    ACR_LOW,
    ACR_SUBSTANTIAL,
    CodeRequest,
    Provider,
    create_code,
)

log = structlog.get_logger("socle_identity.login")

REQUEST_MAX_AGE = 1800
PENDING_MAX_AGE = 300
LINK_MAX_AGE = 24 * 3600
PROMPTS = ("none", "login", "consent", "select_account")


class PageError(Exception):
    """A refusal shown to the person (never redirected: the redirect target is not trusted)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass
class AuthRequest:
    client_id: str
    redirect_uri: str
    scopes: list[str]
    state: str | None = None
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    prompt: list[str] = field(default_factory=list)
    max_age: int | None = None
    acr_values: list[str] = field(default_factory=list)

    def redirect_error(self, exc: OAuth2Error) -> OAuth2Error:
        exc.redirect_uri = self.redirect_uri
        exc.state = self.state
        return exc


async def _client(session: AsyncSession, client_id: str | None) -> Client:
    if not client_id:
        raise PageError("invalid_request", "The client_id parameter is missing.")
    client = await session.get(Client, client_id)
    if client is None:
        raise PageError("invalid_client", "Unknown client_id.")
    if client.disabled_at is not None:
        raise PageError("invalid_client", "This client is disabled.")
    return client


async def validate_request(
    session: AsyncSession, params: Mapping[str, str]
) -> tuple[AuthRequest, Client]:
    """Check an authorization request. Until client and redirect URI are trusted, refusals
    are pages; after, they are redirects carrying the OAuth error."""
    client = await _client(session, params.get("client_id"))
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        raise PageError("invalid_request", "The redirect_uri parameter is missing.")
    if redirect_uri not in client.redirect_uris:
        raise PageError("invalid_request", "redirect_uri is not registered for this client.")
    max_age_raw = params.get("max_age")
    request = AuthRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scopes=sc.split(params.get("scope")),
        state=params.get("state") or None,
        nonce=params.get("nonce") or None,
        code_challenge=params.get("code_challenge") or None,
        code_challenge_method=params.get("code_challenge_method") or None,
        prompt=sc.split(params.get("prompt")),
        acr_values=sc.split(params.get("acr_values")),
    )
    if "request" in params:
        raise request.redirect_error(
            OAuth2Error(
                error="request_not_supported",
                description="Request objects (request) are not supported; send plain parameters.",
            )
        )
    if "request_uri" in params:
        raise request.redirect_error(
            OAuth2Error(
                error="request_uri_not_supported",
                description="request_uri is not supported; send plain parameters.",
            )
        )
    if params.get("response_type") != "code":
        raise request.redirect_error(
            UnsupportedResponseTypeError(
                description="Only response_type=code is supported.",
                response_type=params.get("response_type") or "",
            )
        )
    if "authorization_code" not in client.grant_types:
        raise request.redirect_error(
            UnauthorizedClientError(description="This client may not use the code flow.")
        )
    if not request.scopes:
        request.scopes = list(sc.DEFAULT_CODE_SCOPES)
    refused = [s for s in request.scopes if s not in client.scopes]
    if refused:
        raise request.redirect_error(
            InvalidScopeError(
                description=f"Scope not allowed for this client: {' '.join(refused)}."
            )
        )
    if request.code_challenge is None:
        if client.public:
            raise request.redirect_error(
                InvalidRequestError(description="Public clients must send a PKCE code_challenge.")
            )
    elif (request.code_challenge_method or "plain") != "S256":
        raise request.redirect_error(
            InvalidRequestError(description="code_challenge_method must be S256.")
        )
    elif not 43 <= len(request.code_challenge) <= 128:
        raise request.redirect_error(InvalidRequestError(description="Malformed code_challenge."))
    if any(p not in PROMPTS for p in request.prompt) or (
        "none" in request.prompt and len(request.prompt) > 1
    ):
        raise request.redirect_error(InvalidRequestError(description="Unsupported prompt value."))
    if max_age_raw:
        if not max_age_raw.isdigit():
            raise request.redirect_error(
                InvalidRequestError(description="max_age is a number of seconds.")
            )
        request.max_age = int(max_age_raw)
    return request, client


def dump_request(provider: Provider, request: AuthRequest) -> str:
    return provider.signer.dumps(asdict(request), salt="authorize")


def load_request(provider: Provider, token: str) -> AuthRequest:
    try:
        data = provider.signer.loads(token, salt="authorize", max_age=REQUEST_MAX_AGE)
    except (BadSignature, SignatureExpired) as exc:
        raise PageError("invalid_request", "The login form has expired; start again.") from exc
    return AuthRequest(**data)


# ------------------------------------------------------------------ sessions


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


class LoginRefused(DomainError):
    status, code, title = 400, "login-refused", "Login refused"

    def __init__(self, reason: str, minutes: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.minutes = minutes


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


async def _commune_name(session: AsyncSession, tenant: str) -> str:
    """The commune's name for its mails (the slug if the tenant has none)."""
    row = await session.get(Tenant, tenant)
    return row.name if row is not None and row.name else tenant


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
    factor is required. Failures are committed (throttling) before the refusal is raised."""
    refusal: LoginRefused | None = None
    async with provider.sessions() as session:
        async with session.begin():
            request, client = await validate_request(session, asdict_params(request))
            user = await directory.find_user(session, tenant=client.tenant, email=email.strip())
            ok = provider.passwords.verify(user.password_hash if user else None, password)
            if user is None:
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


def asdict_params(request: AuthRequest) -> dict[str, str]:
    """The authorization request back as query parameters (to re-validate it)."""
    params = {
        "client_id": request.client_id,
        "redirect_uri": request.redirect_uri,
        "response_type": "code",
        "scope": " ".join(request.scopes),
        "state": request.state or "",
        "nonce": request.nonce or "",
        "code_challenge": request.code_challenge or "",
        "code_challenge_method": request.code_challenge_method or "",
        "prompt": " ".join(request.prompt),
        "acr_values": " ".join(request.acr_values),
    }
    if request.max_age is not None:
        params["max_age"] = str(request.max_age)
    return params


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


# ------------------------------------------------------------------ registration, links


async def register_citizen(
    provider: Provider,
    *,
    client_id: str,
    email: str,
    password: str,
    given_name: str,
    family_name: str,
    locale: str,
) -> None:
    """Create a citizen account (unverified) and publish ``user.registered`` with the
    verification link. An address already registered gets no second account and no error
    (the page does not reveal who has an account)."""
    async with provider.sessions() as session, session.begin():
        client = await _client(session, client_id)
        address = directory.normalise_email(email)
        directory.check_password(password)
        if await directory.find_user(session, tenant=client.tenant, email=address):
            return
        user = await directory.create_user(
            session,
            provider.passwords,
            tenant=client.tenant,
            email=address,
            password=password,
            roles=["citizen"],
            given_name=given_name.strip()[:200],
            family_name=family_name.strip()[:200],
            locale=locale,
        )
        token = provider.signer.dumps({"uid": user.id, "email": user.email}, salt="verify")
        await record_event(
            session,
            events.user_registered(
                tenant=user.tenant,
                user_id=user.id,
                email=user.email,
                locale=locale,
                verification_url=f"{provider.issuer}/verify-email?{urlencode({'token': token})}",
                commune=await _commune_name(session, user.tenant),
            ),
            aggregate=f"user:{user.id}",
        )


async def verify_email(provider: Provider, token: str) -> bool:
    try:
        data = provider.signer.loads(token, salt="verify", max_age=LINK_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return False
    async with provider.sessions() as session, session.begin():
        user = await session.get(User, str(data.get("uid")))
        if user is None or user.email != data.get("email"):
            return False
        if not user.email_verified:
            user.email_verified = True
            await record_event(
                session,
                events.user_email_verified(tenant=user.tenant, user_id=user.id),
                aggregate=f"user:{user.id}",
            )
        return True


def _password_fingerprint(user: User) -> str:
    return digest(user.password_hash or "")[:16]


async def request_password_reset(
    provider: Provider, *, client_id: str, email: str, locale: str
) -> None:
    async with provider.sessions() as session, session.begin():
        client = await _client(session, client_id)
        user = await directory.find_user(session, tenant=client.tenant, email=email.strip())
        if user is None:
            return
        token = provider.signer.dumps(
            {"uid": user.id, "pw": _password_fingerprint(user)}, salt="reset"
        )
        await record_event(
            session,
            events.user_password_reset_requested(
                tenant=user.tenant,
                user_id=user.id,
                email=user.email,
                locale=locale,
                reset_url=f"{provider.issuer}/password-reset/confirm?{urlencode({'token': token})}",
                commune=await _commune_name(session, user.tenant),
            ),
            aggregate=f"user:{user.id}",
        )


async def reset_password(provider: Provider, token: str, password: str) -> bool:
    """Set a new password from a reset link; the link works once (it names the old hash)."""
    try:
        data = provider.signer.loads(token, salt="reset", max_age=3600)
    except (BadSignature, SignatureExpired):
        return False
    async with provider.sessions() as session, session.begin():
        user = await session.get(User, str(data.get("uid")))
        if user is None or data.get("pw") != _password_fingerprint(user):
            return False
        await directory.set_password(session, provider.passwords, user, password)
        ttl = await lifecycle.longest_access_ttl(session, provider.settings.access_token_ttl)
        await lifecycle.end_sessions(session, await lifecycle.sessions_of(session, user.id), ttl)
        return True


# ------------------------------------------------------------------ TOTP enrolment


async def start_totp(provider: Provider, *, tenant: str, user_id: str) -> dict[str, Any]:
    async with provider.sessions() as session, session.begin():
        user = await directory.get_user(session, tenant=tenant, user_id=user_id)
        if user.totp_confirmed:
            raise DomainError(
                "A second factor is already active; remove it before enrolling another.",
                status=409,
                code="totp-already-active",
                title="Conflict",
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
            raise DomainError(
                "Start the enrolment first (POST /v1/me/totp).",
                status=409,
                code="totp-not-started",
                title="Conflict",
            )
        if not accept_totp(user, code):
            raise DomainError(
                "The code does not match; check the device's clock and type the current code.",
                status=422,
                code="totp-code-invalid",
                title="Unprocessable request",
            )
        codes = [secrets.token_hex(5) for _ in range(10)]
        user.totp_confirmed = True
        user.recovery_codes = [digest(c) for c in codes]
        return codes
