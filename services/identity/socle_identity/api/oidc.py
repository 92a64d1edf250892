"""Protocol endpoints of the OpenID provider: discovery, keys, token, introspection,
revocation, userinfo."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from socle.auth import Principal, require_scope
from socle_identity import administration, grants, introspection, keys
from socle_identity import scopes as sc
from socle_identity.api.deps import NO_STORE, ProviderDep, client_auth, form_fields
from socle_identity.authrequest import PROMPTS
from socle_identity.provider import ACR_LEVELS

router = APIRouter(tags=["openid-connect"])

OAUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "OAuth error (RFC 6749 5.2): error, error_description"},
    401: {"description": "invalid_client"},
}


CLIENT_AUTH_FIELDS: dict[str, Any] = {
    "client_id": {"type": "string", "description": "With client_secret_post or public clients"},
    "client_secret": {"type": "string", "description": "client_secret_post"},
    "client_assertion_type": {
        "type": "string",
        "enum": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
    },
    "client_assertion": {"type": "string", "description": "private_key_jwt (RFC 7523)"},
}


def form_body(required: list[str], **fields: dict[str, Any]) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": required,
        "properties": {**fields, **CLIENT_AUTH_FIELDS},
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": schema}},
        }
    }


TOKEN_FORM = form_body(
    ["grant_type"],
    grant_type={"type": "string", "enum": list(sc.GRANT_TYPES)},
    code={"type": "string"},
    redirect_uri={"type": "string"},
    code_verifier={"type": "string"},
    refresh_token={"type": "string"},
    scope={"type": "string", "description": "space-separated"},
)
TOKEN_FIELD_FORM = form_body(
    ["token"],
    token={"type": "string"},
    token_type_hint={"type": "string", "enum": ["access_token", "refresh_token"]},
)


@router.get("/.well-known/openid-configuration", summary="OpenID Provider metadata")
async def discovery(p: ProviderDep) -> dict[str, Any]:
    base = p.issuer
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "userinfo_endpoint": f"{base}/userinfo",
        "jwks_uri": f"{base}/jwks",
        "introspection_endpoint": f"{base}/introspect",
        "revocation_endpoint": f"{base}/revoke",
        "end_session_endpoint": f"{base}/logout",
        "scopes_supported": list(sc.ALL_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(sc.GRANT_TYPES),
        "subject_types_supported": list(sc.SUBJECT_TYPES),
        "id_token_signing_alg_values_supported": list(keys.SUPPORTED_ALGS),
        "token_endpoint_auth_methods_supported": list(sc.AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(sc.ASSERTION_ALGS),
        "introspection_endpoint_auth_methods_supported": [
            m for m in sc.AUTH_METHODS if m != "none"
        ],
        "introspection_endpoint_auth_signing_alg_values_supported": list(sc.ASSERTION_ALGS),
        "revocation_endpoint_auth_methods_supported": list(sc.AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": list(sc.ASSERTION_ALGS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "azp",
            "at_hash",
            "email",
            "email_verified",
            "name",
            "given_name",
            "family_name",
            "locale",
            "tenant",
            "roles",
        ],
        "acr_values_supported": list(ACR_LEVELS),
        "prompt_values_supported": list(PROMPTS),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "ui_locales_supported": ["fr", "de", "it", "en"],
    }


@router.get(
    "/jwks",
    summary="Public signing keys (JWKS)",
    response_class=JSONResponse,
    responses={200: {"content": {"application/jwk-set+json": {}}}},
)
async def jwks(p: ProviderDep) -> JSONResponse:
    document = await administration.public_jwks(p.sessions)
    return JSONResponse(
        document,
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.post("/token", summary="Token endpoint", responses=OAUTH_ERRORS, openapi_extra=TOKEN_FORM)
async def token(request: Request, p: ProviderDep) -> JSONResponse:
    form = await form_fields(request)
    body = await grants.token_endpoint(p, client_auth(request, form), form)
    return JSONResponse(body, headers=NO_STORE)


@router.post(
    "/introspect",
    summary="Token introspection (RFC 7662)",
    responses=OAUTH_ERRORS,
    openapi_extra=TOKEN_FIELD_FORM,
)
async def introspect(request: Request, p: ProviderDep) -> JSONResponse:
    form = await form_fields(request)
    body = await introspection.introspect(p, client_auth(request, form), form.get("token"))
    return JSONResponse(body, headers=NO_STORE)


@router.post(
    "/revoke",
    summary="Token revocation (RFC 7009)",
    responses=OAUTH_ERRORS,
    openapi_extra=TOKEN_FIELD_FORM,
)
async def revoke(request: Request, p: ProviderDep) -> Response:
    form = await form_fields(request)
    await introspection.revoke(p, client_auth(request, form), form.get("token"))
    return Response(status_code=200, headers=NO_STORE)


UserInfoPrincipal = Annotated[Principal, Depends(require_scope("openid"))]


@router.get("/userinfo", summary="UserInfo (OpenID Connect)")
async def userinfo(principal: UserInfoPrincipal, p: ProviderDep) -> JSONResponse:
    return JSONResponse(await introspection.userinfo(p, principal), headers=NO_STORE)


@router.post("/userinfo", summary="UserInfo (OpenID Connect), POST form")
async def userinfo_post(principal: UserInfoPrincipal, p: ProviderDep) -> JSONResponse:
    return JSONResponse(await introspection.userinfo(p, principal), headers=NO_STORE)
