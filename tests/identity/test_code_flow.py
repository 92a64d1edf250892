"""A stock OIDC client (Authlib) against the provider: discovery, authorization code with
PKCE driven through the login form, ID token, userinfo, refresh, introspection, revocation,
logout; and single sign-on, prompt=login, max_age."""

from __future__ import annotations

import httpx
import jwt
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.jose import JsonWebKey
from authlib.jose import jwt as authlib_jwt
from authlib.oidc.core import CodeIDToken

from socle.auth import JWKSCache, TokenVerifier
from tests.support.identity import ISSUER, REDIRECT, log_in, query


async def discover(identity) -> dict:
    return (await identity.client.get("/.well-known/openid-configuration")).json()


def rp_client(
    identity, client_id: str, secret: str | None, scope: str = "openid profile email payments:read"
) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=client_id,
        client_secret=secret,
        redirect_uri=REDIRECT,
        scope=scope,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        transport=httpx.ASGITransport(app=identity.app),
        base_url=ISSUER,
    )


async def test_stock_client_completes_code_flow_with_pkce(identity, commune):
    client_id, secret = await commune.add_client(
        name="Guichet",
        redirect_uris=[REDIRECT],
        post_logout_redirect_uris=["https://app.example.ch/bye"],
        scopes=["openid", "profile", "email", "payments:read"],
        grant_types=["authorization_code", "refresh_token"],
    )
    user_id = await commune.add_user("anna@example.ch")
    meta = await discover(identity)
    verifier = "v" * 20 + "A-._~" * 6 + "xyz0123456789"
    async with rp_client(identity, client_id, secret) as rp, identity.http() as browser:
        url, state = rp.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, nonce="n-0S6_WzA2Mj"
        )
        done = await log_in(browser, url, "anna@example.ch")
        assert done.status_code == 303, done.text
        location = done.headers["location"]
        assert location.startswith(REDIRECT + "?")
        params = query(location)
        assert params["state"] == state and params["iss"] == ISSUER

        token = await rp.fetch_token(
            meta["token_endpoint"], authorization_response=location, code_verifier=verifier
        )
        assert {"access_token", "id_token", "refresh_token", "expires_in"} <= set(token)

        # The ID token, checked as an OIDC library does (signature, nonce, at_hash, aud...).
        jwks = JsonWebKey.import_key_set((await identity.client.get("/jwks")).json())
        id_token = authlib_jwt.decode(
            token["id_token"],
            jwks,
            claims_cls=CodeIDToken,
            claims_options={"iss": {"value": ISSUER}},
            claims_params={
                "nonce": "n-0S6_WzA2Mj",
                "client_id": client_id,
                "access_token": token["access_token"],
            },
        )
        id_token.validate()
        assert id_token["sub"] == user_id
        assert id_token["acr"] == "urn:socle:loa:low" and id_token["amr"] == ["pwd"]
        assert id_token["email"] == "anna@example.ch"
        assert id_token["auth_time"] <= id_token["iat"]

        # The access token: RFC 9068, accepted by the payment service and by userinfo.
        access = token["access_token"]
        assert jwt.get_unverified_header(access)["typ"] == "at+jwt"
        payment = TokenVerifier(
            issuer=ISSUER,
            audience="socle-payment",
            jwks=JWKSCache(f"{ISSUER}/jwks", client=identity.http()),
        )
        principal = await payment.verify(access)
        assert principal.subject == user_id
        assert principal.tenant == commune.tenant
        assert principal.roles == {"citizen"}
        assert principal.client_id == client_id

        info = (await rp.get(meta["userinfo_endpoint"])).json()
        assert info["sub"] == user_id
        assert info["email"] == "anna@example.ch" and info["email_verified"] is True
        assert info["given_name"] == "Anna" and info["tenant"] == commune.tenant

        # Refresh: a new pair, the old refresh token spent.
        old_refresh = token["refresh_token"]
        refreshed = await rp.refresh_token(meta["token_endpoint"], refresh_token=old_refresh)
        assert refreshed["refresh_token"] != old_refresh
        assert refreshed["access_token"] != access

        # Introspection (RFC 7662).
        active = (await rp.introspect_token(meta["introspection_endpoint"], token=access)).json()
        assert active["active"] is True and active["sub"] == user_id
        assert active["tenant"] == commune.tenant
        spent = (
            await rp.introspect_token(meta["introspection_endpoint"], token=old_refresh)
        ).json()
        assert spent == {"active": False}

        # Revocation (RFC 7009): the access token stops working at identity.
        revoked = await rp.revoke_token(meta["revocation_endpoint"], token=access)
        assert revoked.status_code == 200
        after = (await rp.introspect_token(meta["introspection_endpoint"], token=access)).json()
        assert after == {"active": False}
        stale = await identity.client.get(
            "/userinfo", headers={"Authorization": f"Bearer {access}"}
        )
        assert stale.status_code == 401
        assert "revoked" in stale.json()["detail"]
        # Revoking the refresh token ends the login's family.
        await rp.revoke_token(meta["revocation_endpoint"], token=refreshed["refresh_token"])
        gone = await identity.client.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
            auth=(client_id, secret),
        )
        assert gone.status_code == 400 and gone.json()["error"] == "invalid_grant"

        # RP-initiated logout back to a registered address, with state.
        out = await browser.get(
            "/logout",
            params={
                "id_token_hint": token["id_token"],
                "post_logout_redirect_uri": "https://app.example.ch/bye",
                "state": "s1",
            },
        )
        assert out.status_code == 303
        assert out.headers["location"] == "https://app.example.ch/bye?state=s1"
        # The browser's session is over: the next authorization shows the login form.
        again, _ = rp.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier
        )
        page = await browser.get(again)
        assert page.status_code == 200 and 'name="password"' in page.text


async def test_public_client_with_pkce_and_single_sign_on(identity, commune):
    client_id, _ = await commune.add_client(
        name="Mobile app",
        public=True,
        redirect_uris=[REDIRECT],
        scopes=["openid", "email"],
        grant_types=["authorization_code", "refresh_token"],
    )
    await commune.add_user("bruno@example.ch")
    meta = await discover(identity)
    verifier = "p" * 64
    async with rp_client(identity, client_id, None, scope="openid email") as rp:
        async with identity.http() as browser:
            url, _ = rp.create_authorization_url(
                meta["authorization_endpoint"], code_verifier=verifier
            )
            first = await log_in(browser, url, "bruno@example.ch")
            token = await rp.fetch_token(
                meta["token_endpoint"],
                authorization_response=first.headers["location"],
                code_verifier=verifier,
            )
            assert token["scope"] == "openid email"
            first_auth = jwt.decode(token["id_token"], options={"verify_signature": False})

            # Logged in already: the next request is answered without the form...
            url2, _ = rp.create_authorization_url(
                meta["authorization_endpoint"], code_verifier=verifier
            )
            sso = await browser.get(url2)
            assert sso.status_code == 303 and "code=" in sso.headers["location"]
            # ... unless the app asks for a fresh login (prompt=login) or a recent one.
            for extra in ({"prompt": "login"}, {"max_age": "0"}):
                url3, _ = rp.create_authorization_url(
                    meta["authorization_endpoint"], code_verifier=verifier, **extra
                )
                page = await browser.get(url3)
                assert page.status_code == 200 and 'name="password"' in page.text, extra

        # prompt=none without a session: login_required, sent back to the app.
        async with identity.http() as stranger:
            url4, state = rp.create_authorization_url(
                meta["authorization_endpoint"], code_verifier=verifier, prompt="none"
            )
            silent = await stranger.get(url4)
            assert silent.status_code == 302
            back = query(silent.headers["location"])
            assert back["error"] == "login_required" and back["state"] == state
    assert first_auth["aud"] == client_id
