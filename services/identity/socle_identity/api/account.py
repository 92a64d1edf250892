"""Identity's own account endpoint: a short ``identity:account`` token for the browser's
recent login session, and the dependency the account-changing ``/v1/me`` routes use."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from socle.auth import Principal, require_scope
from socle.openapi import problem_responses
from socle.problems import Forbidden
from socle_identity import account, errors
from socle_identity import scopes as sc
from socle_identity.api.deps import NO_STORE, ProviderDep
from socle_identity.api.web import CSRF_COOKIE, SESSION_COOKIE

router = APIRouter(tags=["account"])

CSRF_HEADER = "X-CSRF-Token"


@router.post(
    "/account/token",
    summary="A token for identity's own account pages (login session, recent login)",
    responses={
        200: {"description": "access_token (scope openid identity:account), expires_in"},
        **problem_responses(
            (401, "No login session, or a login too old"), (403, "CSRF header missing or wrong")
        ),
    },
)
async def account_token(request: Request, p: ProviderDep) -> JSONResponse:
    """Only identity's own pages can call this: it needs identity's login-session cookie
    and the ``X-CSRF-Token`` header equal to identity's CSRF cookie (another site can set
    neither)."""
    body: dict[str, Any]
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise errors.LoginRequired(
            "Log in first: this endpoint works with the login session of identity's pages."
        )
    csrf = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not csrf or not hmac.compare_digest(csrf.encode(), sent.encode()):
        raise Forbidden(f"Send the {CSRF_HEADER} header of the page.", code="csrf")
    body = await account.account_token(p, cookie)
    return JSONResponse(body, headers=NO_STORE)


async def recent_account_holder(
    request: Request,
    p: ProviderDep,
    principal: Annotated[Principal, Depends(require_scope(sc.ACCOUNT_SCOPE))],
) -> Principal:
    """A token of identity's account pages whose login is recent (``SOCLE_REAUTH_SECONDS``)."""
    account.require_recent_login(principal, p.settings.reauth_seconds)
    return principal


AccountHolder = Annotated[Principal, Depends(recent_account_holder)]
