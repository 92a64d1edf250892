"""The access-token matrix: only a good token for this audience, scope and tenant gets in."""

from __future__ import annotations

import time
from typing import Annotated

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI

from socle.auth import JWKSCache, Principal, TokenVerifier, principal_dep
from socle.problems import install_problem_handlers
from socle.revocation import DenyList, Revocation
from socle_dev.testing import TestIssuer, eventually

AUDIENCE = "socle-payment"


@pytest.fixture
def app(issuer: TestIssuer) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.verifier = TokenVerifier(
        issuer=issuer.issuer,
        audience=AUDIENCE,
        jwks=JWKSCache(issuer.jwks_url, min_refresh_seconds=0),
    )

    @app.get("/v1/payments")
    async def list_payments(
        principal: Annotated[Principal, principal_dep("payments:read")],
    ) -> dict[str, str]:
        return {"tenant": principal.tenant, "subject": principal.subject}

    return app


async def get(app: FastAPI, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/v1/payments", headers=headers)


def good(issuer: TestIssuer, **kwargs) -> str:
    kwargs.setdefault("scopes", ["payments:read"])
    kwargs.setdefault("tenant", "vevey")
    return issuer.token(audience=AUDIENCE, **kwargs)


async def test_good_token_yields_principal_of_its_tenant(app, issuer):
    response = await get(app, good(issuer, subject="agent-7"))
    assert response.status_code == 200
    assert response.json() == {"tenant": "vevey", "subject": "agent-7"}


async def test_audience_list_containing_ours_is_accepted(app, issuer):
    token = issuer.token(audience=["socle-storage", AUDIENCE], scopes=["payments:read"])
    assert (await get(app, token)).status_code == 200


async def test_no_token_is_401_with_challenge(app):
    response = await get(app, None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"


def _other_ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.mark.parametrize(
    ("case", "detail"),
    [
        ("expired", "expired"),
        ("wrong_issuer", "issuer"),
        ("wrong_audience", "not meant for"),
        ("unknown_kid", "key the issuer does not publish"),
        ("forged_signature", "invalid"),
        ("alg_none", "alg"),
        ("alg_hs256", "alg"),
        ("not_yet_valid", "not valid yet"),
        ("no_tenant", "no tenant"),
        ("id_token_type", "not an access token"),
        ("garbage", "well-formed"),
    ],
)
async def test_bad_tokens_are_refused(app, issuer, case, detail):
    if case == "expired":
        token = good(issuer, lifetime=-120)
    elif case == "wrong_issuer":
        token = good(issuer, iss="https://evil.example")
    elif case == "wrong_audience":
        token = issuer.token(audience="socle-storage", scopes=["payments:read"])
    elif case == "unknown_kid":
        token = good(issuer, headers={"kid": "nope"})
    elif case == "forged_signature":
        token = good(issuer, key=_other_ec_key())
    elif case == "alg_none":
        token = jwt.encode(
            {"sub": "x", "aud": AUDIENCE, "iss": issuer.issuer},
            None,
            algorithm="none",
            headers={"typ": "at+jwt", "kid": issuer.kid},
        )
    elif case == "alg_hs256":
        # The classic confusion attack: the public key used as an HMAC secret.
        token = good(issuer, key="public-key-as-secret-" * 3, algorithm="HS256")
    elif case == "not_yet_valid":
        import time

        token = good(issuer, nbf=int(time.time()) + 600)
    elif case == "no_tenant":
        token = good(issuer, tenant="")
    elif case == "id_token_type":
        token = good(issuer, headers={"typ": "JWT"})
    else:
        token = "not.a.jwt"
    response = await get(app, token)
    assert response.status_code == 401, response.text
    assert detail in response.json()["detail"]
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_missing_scope_is_403_naming_it(app, issuer):
    response = await get(app, good(issuer, scopes=["documents:read"]))
    assert response.status_code == 403
    assert "payments:read" in response.json()["detail"]
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_rs256_key_with_mismatched_alg_is_refused(issuer):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rogue = TestIssuer(issuer.issuer)
    rogue.key = rsa_key  # an RS256 signature claiming the ES256 key's kid
    token = rogue.token(
        audience=AUDIENCE, algorithm="RS256", headers={"kid": issuer.kid}, scopes=["payments:read"]
    )
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience=AUDIENCE, jwks=JWKSCache(issuer.jwks_url)
    )
    with pytest.raises(Exception, match="does not match its key"):
        await verifier.verify(token)


async def test_rotated_key_is_fetched_on_unknown_kid_then_rate_limited(issuer):
    cache = JWKSCache(issuer.jwks_url, min_refresh_seconds=3600)
    verifier = TokenVerifier(issuer=issuer.issuer, audience=AUDIENCE, jwks=cache)
    assert (await verifier.verify(good(issuer))).tenant == "vevey"
    # The issuer rotates: a new key is published and used.
    rotated = TestIssuer(issuer.issuer)
    issuer.jwks["keys"].append(rotated.jwks["keys"][0])
    try:
        token = rotated.token(audience=AUDIENCE, scopes=["payments:read"])
        # Within the refresh interval an unknown kid does not trigger another fetch...
        with pytest.raises(Exception, match="does not publish"):
            await verifier.verify(token)
        # ...after it, the new key is fetched and accepted.
        cache.min_refresh_seconds = 0
        assert (await verifier.verify(token)).subject == "user-1"
    finally:
        issuer.jwks["keys"].pop()


async def test_a_remembered_token_is_refused_once_revoked(issuer):
    """A token already verified (and remembered) is refused as soon as it is revoked."""
    deny = DenyList()
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience=AUDIENCE, jwks=JWKSCache(issuer.jwks_url), deny=deny
    )
    token = good(issuer, client_id="reporting")
    other = good(issuer, client_id="cashier")
    assert (await verifier.verify(token)).client_id == "reporting"
    assert (await verifier.verify(token)).client_id == "reporting"
    now = int(time.time())
    deny.add(Revocation("vevey", "client_id", "reporting", now + 1, now + 600))
    with pytest.raises(Exception, match="revoked"):
        await verifier.verify(token)
    assert (await verifier.verify(other)).client_id == "cashier"


async def test_a_remembered_token_is_refused_once_expired(issuer):
    verifier = TokenVerifier(
        issuer=issuer.issuer,
        audience=AUDIENCE,
        jwks=JWKSCache(issuer.jwks_url),
        leeway_seconds=0,
    )
    token = good(issuer, lifetime=2)  # at least 1 s ahead: iat is rounded down
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert (await verifier.verify(token)).tenant == "vevey"

    async def past_expiry() -> bool:
        return time.time() >= expires + 0.01

    await eventually(past_expiry, "the token's expiry", within=5)
    with pytest.raises(Exception, match="expired"):
        await verifier.verify(token)


async def test_remembered_tokens_are_bounded(issuer):
    verifier = TokenVerifier(
        issuer=issuer.issuer, audience=AUDIENCE, jwks=JWKSCache(issuer.jwks_url), max_remembered=3
    )
    tokens = [good(issuer, subject=f"user-{i}") for i in range(5)]
    for token in tokens:
        await verifier.verify(token)
    assert len(verifier._verified) == 3
    # a forgotten token is simply verified again
    assert (await verifier.verify(tokens[0])).subject == "user-0"
