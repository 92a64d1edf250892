"""Authorization requests: checking the parameters of a request to the authorization
endpoint, and carrying a checked request through the login pages (signed, or back as query
parameters to re-validate it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from authlib.oauth2.rfc6749.errors import (
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
    UnsupportedResponseTypeError,
)
from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy.ext.asyncio import AsyncSession

from socle_identity import scopes as sc
from socle_identity.models import Client
from socle_identity.provider import Provider

REQUEST_MAX_AGE = 1800
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


async def get_client(session: AsyncSession, client_id: str | None) -> Client:
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
    client = await get_client(session, params.get("client_id"))
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
