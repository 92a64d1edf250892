"""``POST /token`` for client credentials, answered below FastAPI's routing.

A client-credentials request of a client whose record is in memory runs no SQL and writes
nothing (:func:`socle_identity.grants.client_credentials_from_cache`); what remained per
request was FastAPI's routing and dependency solving, about as much again as issuing the
token. This layer, the innermost of the service's middleware (after the in-flight limit,
tracing and metrics), answers such a request itself when it succeeds. Anything else, refusals
included, goes on to the ``/token`` route with the body it read, so the route answers every
error exactly as before: the fast path only ever answers a token.
"""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from socle_identity.api import oidc
from socle_identity.api.deps import NO_STORE, client_auth, is_urlencoded, urlencoded_fields
from socle_identity.context import IdentityContext
from socle_identity.grants import client_credentials_from_cache

TOKEN_PATH = "/token"


class TokenFastPath:
    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self._route: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != TOKEN_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if not is_urlencoded(request):
            await self.app(scope, receive, send)
            return
        body = await request.body()
        answer = await self._answer(request, body)
        if answer is not None:
            scope["route"] = self._token_route()  # metrics name the route as the router does
            await JSONResponse(answer, headers=NO_STORE)(scope, receive, send)
            return
        await self.app(scope, _replaying(body, receive), send)

    async def _answer(self, request: Request, body: bytes) -> dict[str, Any] | None:
        form = urlencoded_fields(body)
        if form.get("grant_type") != "client_credentials":
            return None
        context = getattr(self.fastapi_app.state, "runtime", None)
        context = getattr(context, "context", None)
        if not isinstance(context, IdentityContext):
            return None  # not started yet: the route answers
        with contextlib.suppress(Exception):  # the route answers refusals, as it always did
            return await client_credentials_from_cache(
                context.provider, client_auth(request, form), form
            )
        return None

    def _token_route(self) -> Any:
        if self._route is None:
            self._route = next(
                r for r in oidc.router.routes if getattr(r, "path", "") == TOKEN_PATH
            )
        return self._route


def _replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` giving ``body`` again (already read), then what follows (a disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def install(app: FastAPI) -> None:
    """Add the fast path as the innermost middleware of ``app`` (before it first serves)."""
    from starlette.middleware import Middleware

    app.user_middleware.append(Middleware(TokenFastPath, fastapi_app=app))
