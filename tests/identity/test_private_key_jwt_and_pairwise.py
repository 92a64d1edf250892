"""private_key_jwt client authentication (RFC 7523) with a stock client, and pairwise
subject identifiers that keep two sectors from correlating a person."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import jwt
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey
from jwt.algorithms import ECAlgorithm

from tests.support.identity import (
    ISSUER,
    REDIRECT,
    assert_oauth_error,
    authorize_url,
    log_in,
    pkce_pair,
    query,
    redeem_code,
)


def key_pair() -> tuple[ec.EllipticCurvePrivateKey, dict]:
    private = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    public.update(kid=uuid.uuid4().hex[:8], alg="ES256", use="sig")
    return private, public


def assertion(private, client_id: str, kid: str, **overrides) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": f"{ISSUER}/token",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    } | overrides
    return jwt.encode(claims, private, algorithm="ES256", headers={"kid": kid})


async def test_private_key_jwt_with_a_stock_client(identity, commune):
    private, public = key_pair()
    client_id, secret = await commune.add_client(
        name="Signed ERP",
        grant_types=["client_credentials"],
        scopes=["payments:read"],
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [public]},
    )
    assert secret is None
    meta = (await identity.client.get("/.well-known/openid-configuration")).json()
    assert "private_key_jwt" in meta["token_endpoint_auth_methods_supported"]
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    rp = AsyncOAuth2Client(
        client_id=client_id,
        client_secret=ECKey.import_key(pem),
        token_endpoint_auth_method="private_key_jwt",
        transport=httpx.ASGITransport(app=identity.app),
        base_url=ISSUER,
    )
    rp.register_client_auth_method(
        PrivateKeyJWT(meta["token_endpoint"], alg="ES256", headers={"kid": public["kid"]})
    )
    async with rp:
        token = await rp.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["client_id"] == client_id and claims["scope"] == "payments:read"

    def post(value: str):
        return identity.client.post(
            "/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": value,
            },
        )

    once = assertion(private, client_id, public["kid"])
    assert (await post(once)).status_code == 200
    assert_oauth_error(await post(once), "invalid_client")  # replayed
    stranger, _ = key_pair()
    assert_oauth_error(await post(assertion(stranger, client_id, public["kid"])), "invalid_client")
    expired = assertion(private, client_id, public["kid"], exp=int(time.time()) - 120)
    assert_oauth_error(await post(expired), "invalid_client")
    elsewhere = assertion(private, client_id, public["kid"], aud="https://other.example/token")
    assert_oauth_error(await post(elsewhere), "invalid_client")
    # A secret does not authenticate a private_key_jwt client.
    basic = await identity.client.post(
        "/token", data={"grant_type": "client_credentials"}, auth=(client_id, "guess")
    )
    assert_oauth_error(basic, "invalid_client", 401)


async def sub_seen_by(identity, client_id: str, secret: str, email: str) -> tuple[str, dict]:
    verifier, challenge = pkce_pair()
    async with identity.http() as browser:
        done = await log_in(
            browser, authorize_url(client_id, challenge, scope="openid email"), email
        )
        code = query(done.headers["location"])["code"]
    tokens = (await redeem_code(identity.client, code, verifier, (client_id, secret))).json()
    id_token = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    access = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert id_token["sub"] == access["sub"]
    return id_token["sub"], tokens


async def test_pairwise_subjects_differ_between_sectors(identity, commune):
    user_id = await commune.add_user("ines@example.ch")

    async def app(sector: str | None, subject_type: str = "pairwise") -> tuple[str, str]:
        client_id, secret = await commune.add_client(
            name=f"App {sector}",
            redirect_uris=[REDIRECT],
            scopes=["openid", "email"],
            subject_type=subject_type,
            sector_identifier=sector,
        )
        assert secret is not None
        return client_id, secret

    health_a, health_b, tax = await app("health"), await app("health"), await app("tax")
    public = await app(None, "public")
    sub_a, tokens = await sub_seen_by(identity, *health_a, "ines@example.ch")
    sub_b, _ = await sub_seen_by(identity, *health_b, "ines@example.ch")
    sub_tax, _ = await sub_seen_by(identity, *tax, "ines@example.ch")
    sub_public, _ = await sub_seen_by(identity, *public, "ines@example.ch")
    assert sub_a == sub_b, "clients of one sector see the same person"
    assert sub_a != sub_tax and user_id not in (sub_a, sub_tax)
    assert sub_public == user_id

    info = await identity.client.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.status_code == 200
    assert info.json()["sub"] == sub_a and info.json()["email"] == "ines@example.ch"
