"""Dependencies shared by the routers."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote_plus

import jwt
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError
from fastapi import Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from socle.service import context_dependency
from socle_identity.client_auth import JWT_BEARER
from socle_identity.context import IdentityContext
from socle_identity.provider import Provider

ContextDep = Annotated[IdentityContext, Depends(context_dependency(IdentityContext))]


async def get_provider(context: ContextDep) -> Provider:
    return context.provider


ProviderDep = Annotated[Provider, Depends(get_provider)]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a form body; an ``application/x-www-form-urlencoded`` one (what OAuth
    clients send) parsed from the body in one call, as Starlette would (last value of a
    repeated field, UTF-8 percent-decoding), without its streaming parser."""
    if is_urlencoded(request):
        return urlencoded_fields(await request.body())
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def is_urlencoded(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return content_type == "application/x-www-form-urlencoded"


def urlencoded_fields(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True, errors="replace"))


def client_auth(request: Request, form: dict[str, str]) -> dict[str, str | None]:
    """How the client authenticates: HTTP Basic (RFC 6749 2.3.1, form-encoded parts),
    client_id and client_secret in the body, or client_id alone (public clients)."""
    if form.get("client_assertion_type") or form.get("client_assertion"):
        if form.get("client_assertion_type") != JWT_BEARER or not form.get("client_assertion"):
            raise InvalidRequestError(
                description=f"client_assertion_type must be {JWT_BEARER} with a client_assertion."
            )
        if request.headers.get("authorization") or form.get("client_secret"):
            raise InvalidRequestError(description="Use one client authentication method only.")
        assertion = form["client_assertion"]
        client_id = form.get("client_id")
        if not client_id:
            try:
                client_id = str(jwt.decode(assertion, options={"verify_signature": False})["iss"])
            except (jwt.PyJWTError, KeyError) as exc:
                raise InvalidClientError(description="Malformed client assertion.") from exc
        return {"client_id": client_id, "assertion": assertion, "method": "private_key_jwt"}
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        if "client_secret" in form:
            raise InvalidRequestError(description="Use one client authentication method only.")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidClientError(
                description="Malformed HTTP Basic credentials.", status_code=401
            ) from exc
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise InvalidClientError(
                description="Malformed HTTP Basic credentials.", status_code=401
            )
        return {
            "client_id": unquote_plus(client_id),
            "client_secret": unquote_plus(secret),
            "method": "client_secret_basic",
        }
    if form.get("client_secret"):
        return {
            "client_id": form.get("client_id"),
            "client_secret": form["client_secret"],
            "method": "client_secret_post",
        }
    return {"client_id": form.get("client_id"), "client_secret": None, "method": "none"}


def oauth_error_response(exc: OAuth2Error, issuer: str | None = None) -> Response:
    """An OAuth error as RFC 6749 names it: a redirect back to the client once its
    redirect URI is trusted (carrying ``iss``, RFC 9207), otherwise JSON
    ``{error, error_description}``."""
    if exc.redirect_uri:
        params = list(exc.get_body())
        if issuer:
            params.append(("iss", issuer))
        location = add_params_to_uri(exc.redirect_uri, params)
        return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})
    body: dict[str, Any] = dict(exc.get_body())
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    headers.update(NO_STORE)
    return JSONResponse(body, status_code=exc.status_code or 400, headers=headers)
