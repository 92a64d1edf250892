"""Discovery, JWKS, client-credentials tokens that other services accept, key rotation."""

from __future__ import annotations

import time

import jwt
import pytest

from socle.auth import InvalidToken, JWKSCache, TokenVerifier
from socle_dev.events import EventRecorder
from socle_identity import keys
from tests.support.identity import ISSUER


def verifier_for(identity, audience: str) -> TokenVerifier:
    """How another Socle service verifies tokens: the JWKS over HTTP, offline after that."""
    return TokenVerifier(
        issuer=ISSUER,
        audience=audience,
        jwks=JWKSCache(f"{ISSUER}/jwks", client=identity.http(), min_refresh_seconds=0),
    )


async def test_discovery_document_is_complete_and_truthful(identity):
    meta = (await identity.client.get("/.well-known/openid-configuration")).json()
    assert meta["issuer"] == ISSUER
    assert meta["jwks_uri"] == f"{ISSUER}/jwks"
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
        "end_session_endpoint",
    ):
        path = meta[name].removeprefix(ISSUER)
        # Every advertised endpoint exists (answers something other than 404/405).
        response = await identity.client.request(
            "GET" if name in ("authorization_endpoint", "end_session_endpoint") else "POST", path
        )
        assert response.status_code not in (404, 405), name
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert set(meta["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    assert meta["id_token_signing_alg_values_supported"][0] == "ES256"
    assert "client_secret_basic" in meta["token_endpoint_auth_methods_supported"]
    assert "client_secret_post" in meta["token_endpoint_auth_methods_supported"]
    assert meta["response_types_supported"] == ["code"]


async def test_jwks_publishes_the_active_and_next_keys(identity):
    response = await identity.client.get("/jwks")
    assert response.status_code == 200
    published = response.json()["keys"]
    assert all("d" not in k and "p" not in k for k in published), "a private part leaked"
    assert {k["alg"] for k in published} >= {"ES256", "RS256"}
    assert all(k["use"] == "sig" and k["kid"] for k in published)


async def test_client_credentials_token_is_an_rfc9068_jwt_other_services_accept(identity, commune):
    response = await identity.client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "payments:read documents:write"},
        auth=(commune.admin_id, commune.admin_secret),
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert "refresh_token" not in body and "id_token" not in body
    token = body["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) >= {
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "jti",
        "client_id",
        "scope",
        "tenant",
        "roles",
    }
    assert claims["tenant"] == commune.tenant
    assert sorted(claims["aud"]) == ["socle-payment", "socle-storage"]
    assert claims["exp"] - claims["iat"] == 300

    payment = await verifier_for(identity, "socle-payment").verify(token)
    assert payment.tenant == commune.tenant
    assert payment.client_id == commune.admin_id
    assert payment.scopes == {"payments:read", "documents:write"}
    assert payment.roles == {"admin"}

    # A service the token is not meant for refuses it.
    with pytest.raises(InvalidToken, match="not meant for socle-notify"):
        await verifier_for(identity, "socle-notify").verify(token)


async def test_tampered_and_expired_tokens_are_refused_by_other_services(identity, commune):
    token = await commune.admin_token()
    verifier = verifier_for(identity, "socle-identity")
    head, payload, signature = token.split(".")
    forged = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(commune.tenant.encode(), b"tother00000")
    ).decode()
    with pytest.raises(InvalidToken):
        await verifier.verify(f"{head}.{forged}.{signature}")

    # A token the provider signed with its real key, but expired an hour ago.
    async with identity.sessions() as session:
        kid, key = await identity.provider.keys.signing_key(session, "ES256")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims.update(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    expired = jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"})
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify(expired)


async def test_rs256_is_available_per_client(identity, commune):
    client_id, secret = await commune.add_client(
        name="Legacy ERP",
        grant_types=["client_credentials"],
        scopes=["payments:read"],
        signing_alg="RS256",
    )
    response = await identity.client.post(
        "/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    token = response.json()["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    principal = await verifier_for(identity, "socle-payment").verify(token)
    assert principal.scopes == {"payments:read"}


async def test_key_rotation_publishes_before_use_and_keeps_the_old_key(
    identity, commune, nats_server
):
    before = {k["kid"] for k in (await identity.client.get("/jwks")).json()["keys"]}
    old_token = await commune.admin_token()
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    # A service that fetched the JWKS before the rotation...
    verifier = verifier_for(identity, "socle-identity")
    await verifier.verify(old_token)

    async with EventRecorder(nats_server.url, subject="socle.platform.key.rotated") as events:
        rotation = await keys.rotate(
            identity.sessions, encryption=identity.provider.keys.encryption, alg="ES256"
        )
        event = await events.first("key.rotated")
    assert event["data"]["active_kid"] == rotation.active_kid
    assert event["data"]["previous_kid"] == old_kid
    assert event["data"]["next_kid"] == rotation.next_kid
    assert event["data"]["previous_published_until"]

    # The new signing key was already published before the rotation.
    assert rotation.active_kid in before
    new_token = await commune.admin_token()
    assert jwt.get_unverified_header(new_token)["kid"] == rotation.active_kid
    # ... accepts tokens signed with the new key and still those signed with the old one.
    await verifier.verify(new_token)
    await verifier.verify(old_token)
    after = {k["kid"] for k in (await identity.client.get("/jwks")).json()["keys"]}
    assert {old_kid, rotation.active_kid, rotation.next_kid} <= after


async def test_openapi_documents_the_protocol_and_admin_endpoints(identity):
    spec = (await identity.client.get("/openapi.json")).json()
    token_body = spec["paths"]["/token"]["post"]["requestBody"]["content"]
    fields = token_body["application/x-www-form-urlencoded"]["schema"]["properties"]
    assert {"grant_type", "code", "code_verifier", "refresh_token", "client_assertion"} <= set(
        fields
    )
    for path in ("/v1/clients", "/v1/users", "/v1/tenants", "/v1/federation", "/jwks"):
        assert path in spec["paths"], path
    assert "401" in spec["paths"]["/v1/clients"]["post"]["responses"]
