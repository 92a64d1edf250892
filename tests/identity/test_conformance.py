"""OpenID Connect / OAuth conformance, played as a conformance tester does: real HTTP against
the provider, a browser's cookie jar, the relying party's view of each redirect.

RFC 9207 ``iss`` on error redirects, a TOTP code accepted once, ``prompt=consent`` and
``prompt=select_account``, ``request``/``request_uri`` refused with their own errors, logout
confirmed by the person, ``id_token_hint`` with ``prompt=none``, PS256 client assertions,
and the discovery and JWKS details stock libraries read."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlencode

import jwt
import pyotp
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select

from socle_identity.models import Consent, User
from tests.support.identity import (
    ISSUER,
    REDIRECT,
    assert_oauth_error,
    authorize_url,
    hidden,
    log_in,
    pkce_pair,
    query,
    redeem_code,
)

BYE = "https://app.example.ch/bye"


async def web_app(commune, **spec) -> tuple[str, str]:
    client_id, secret = await commune.add_client(
        name="Guichet en ligne",
        redirect_uris=[REDIRECT],
        post_logout_redirect_uris=[BYE],
        scopes=["openid", "email", "profile", "payments:read"],
        grant_types=["authorization_code"],
        **spec,
    )
    assert secret is not None
    return client_id, secret


async def new_person(commune) -> str:
    email = f"p{uuid.uuid4().hex[:8]}@example.ch"
    await commune.add_user(email)
    return email


async def exchange(identity, client: tuple[str, str], location: str, verifier: str) -> dict:
    assert location.startswith(REDIRECT + "?"), location
    params = query(location)
    assert params["iss"] == ISSUER
    response = await redeem_code(identity.client, params["code"], verifier, client)
    assert response.status_code == 200, response.text
    return dict(response.json())


def error_back(response, error: str, state: str = "st4te") -> dict[str, str]:
    """An error sent back to the client the way RFC 6749 and RFC 9207 say: a redirect to
    its registered URI with ``error``, ``state`` and the issuer."""
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?"), location
    params = query(location)
    assert params["error"] == error, params
    assert params["state"] == state and params["iss"] == ISSUER, params
    return params


async def test_discovery_and_jwks_say_what_stock_libraries_read(identity):
    meta = (await identity.client.get("/.well-known/openid-configuration")).json()
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["request_parameter_supported"] is False
    assert meta["request_uri_parameter_supported"] is False
    assert set(meta["prompt_values_supported"]) == {"none", "login", "consent", "select_account"}
    algs = meta["token_endpoint_auth_signing_alg_values_supported"]
    assert "PS256" in algs
    assert meta["introspection_endpoint_auth_signing_alg_values_supported"] == algs
    assert meta["revocation_endpoint_auth_signing_alg_values_supported"] == algs
    for key in (await identity.client.get("/jwks")).json()["keys"]:
        assert ("use" in key) != ("key_ops" in key), key


async def test_error_redirects_carry_the_issuer(identity, commune):
    client_id, _ = await web_app(commune)
    _, challenge = pkce_pair()
    async with identity.http() as browser:
        silent = await browser.get(authorize_url(client_id, challenge, prompt="none"))
        error_back(silent, "login_required")
        wider = await browser.get(
            authorize_url(client_id, challenge, scope="openid documents:read")
        )
        error_back(wider, "invalid_scope")


async def test_request_objects_are_refused_with_their_own_errors(identity, commune):
    client_id, _ = await web_app(commune)
    _, challenge = pkce_pair()
    request_object = jwt.encode({"iss": client_id, "aud": ISSUER}, "k" * 32)
    async with identity.http() as browser:
        by_value = await browser.get(authorize_url(client_id, challenge, request=request_object))
        error_back(by_value, "request_not_supported")
        by_reference = await browser.get(
            authorize_url(client_id, challenge, request_uri="https://app.example.ch/req.jwt")
        )
        error_back(by_reference, "request_uri_not_supported")


async def test_a_totp_code_is_accepted_once(identity, commune):
    client_id, _ = await web_app(commune)
    email = await new_person(commune)
    secret = pyotp.random_base32()
    async with identity.sessions() as session, session.begin():
        user = (
            await session.execute(
                select(User).where(User.tenant == commune.tenant, User.email == email)
            )
        ).scalar_one()
        user.totp_secret, user.totp_confirmed = secret, True
    totp = pyotp.TOTP(secret)

    async def second_factor(code: str):
        _, challenge = pkce_pair()
        async with identity.http() as browser:
            step = await log_in(browser, authorize_url(client_id, challenge), email)
            assert step.status_code == 200 and 'name="code"' in step.text
            return await browser.post(
                "/login/totp",
                data={
                    "csrf_token": hidden(step.text, "csrf_token"),
                    "pending": hidden(step.text, "pending"),
                    "code": code,
                },
            )

    seen = totp.now()
    first = await second_factor(seen)
    assert first.status_code == 303 and "code=" in first.headers["location"]
    # Someone who saw the code (over the shoulder, a phishing proxy) replays it at once.
    replayed = await second_factor(seen)
    assert replayed.status_code == 401 and "location" not in replayed.headers
    # The person's next code works.
    following = await second_factor(totp.at(time.time() + 30))
    assert following.status_code == 303 and "code=" in following.headers["location"]


async def test_prompt_consent_shows_a_page_and_remembers_the_grant(identity, commune):
    client = await web_app(commune)
    client_id = client[0]
    email = await new_person(commune)
    verifier, challenge = pkce_pair()
    scope = "openid payments:read"
    async with identity.http(headers={"Accept-Language": "fr-CH"}) as browser:
        # Logging in with prompt=consent leads to the consent page, not to the client.
        done = await log_in(
            browser, authorize_url(client_id, challenge, scope=scope, prompt="consent"), email
        )
        assert done.status_code == 303 and done.headers["location"].startswith("/consent?")
        page = await browser.get(done.headers["location"])
        assert page.status_code == 200
        assert "Guichet en ligne demande à" in page.text and "voir vos paiements" in page.text
        assert 'value="allow"' in page.text and 'value="deny"' in page.text
        form = {
            "request": hidden(page.text, "request"),
            "csrf_token": hidden(page.text, "csrf_token"),
        }
        # A forged answer (no CSRF token) does nothing.
        forged = await browser.post(
            "/consent", data={**form, "csrf_token": "", "decision": "allow"}
        )
        assert forged.status_code == 403 and "location" not in forged.headers
        # The person refuses: the client hears access_denied.
        refused = await browser.post("/consent", data={**form, "decision": "deny"})
        error_back(refused, "access_denied")

        # Logged in already, the client asks again: the page again; this time allowed.
        again = await browser.get(
            authorize_url(client_id, challenge, scope=scope, prompt="consent")
        )
        assert again.status_code == 303 and again.headers["location"].startswith("/consent?")
        page = await browser.get(again.headers["location"])
        allowed = await browser.post(
            "/consent",
            data={
                "request": hidden(page.text, "request"),
                "csrf_token": hidden(page.text, "csrf_token"),
                "decision": "allow",
            },
        )
        assert allowed.status_code == 303
        tokens = await exchange(identity, client, allowed.headers["location"], verifier)
        assert tokens["scope"] == scope

        # The grant is remembered for this client and person...
        async with identity.sessions() as session:
            rows = await session.execute(select(Consent).where(Consent.client_id == client_id))
            remembered = rows.scalars().all()
        assert [sorted(r.scopes) for r in remembered] == [["openid", "payments:read"]]
        # ... so the same request without prompt goes straight back to the client ...
        same = await browser.get(authorize_url(client_id, challenge, scope=scope))
        assert same.status_code == 303 and same.headers["location"].startswith(REDIRECT)
        # ... while asking for more than was allowed asks the person again,
        more = await browser.get(authorize_url(client_id, challenge, scope=scope + " email"))
        assert more.status_code == 303 and more.headers["location"].startswith("/consent?")
        page = await browser.get(more.headers["location"])
        assert "connaître votre adresse e-mail" in page.text
        # and cannot be had silently.
        silent = await browser.get(
            authorize_url(client_id, challenge, scope=scope + " email", prompt="none")
        )
        error_back(silent, "consent_required")

    # The consent page of one browser's login is no use in another browser.
    async with identity.http() as attacker:
        mine = await attacker.get(more.headers["location"])
        assert mine.status_code == 400 and "login_required" in mine.text


async def test_consent_page_speaks_the_four_languages(identity, commune):
    client_id, _ = await web_app(commune)
    email = await new_person(commune)
    _, challenge = pkce_pair()
    async with identity.http() as browser:
        done = await log_in(browser, authorize_url(client_id, challenge, prompt="consent"), email)
        consent_page = done.headers["location"]
        for lang, words in {
            "fr": ("Autorisation", "Autoriser", "vous identifier"),
            "de": ("Zustimmung", "Erlauben", "Sie identifizieren"),
            "it": ("Autorizzazione", "Autorizza", "identificarvi"),
            "en": ("Permission", "Allow", "identify you"),
        }.items():
            page = await browser.get(consent_page + "&" + urlencode({"lang": lang}))
            assert page.status_code == 200 and f'lang="{lang}"' in page.text
            for word in words:
                assert word in page.text, (lang, word)


async def test_prompt_select_account_shows_who_is_logged_in(identity, commune):
    client = await web_app(commune)
    client_id = client[0]
    anna, bruno = await new_person(commune), await new_person(commune)
    verifier, challenge = pkce_pair()
    async with identity.http(headers={"Accept-Language": "en"}) as browser:
        first = await log_in(browser, authorize_url(client_id, challenge), anna)
        anna_sub = jwt.decode(
            (await exchange(identity, client, first.headers["location"], verifier))["id_token"],
            options={"verify_signature": False},
        )["sub"]

        def choose() -> str:
            return authorize_url(client_id, challenge, prompt="select_account")

        shown = await browser.get(choose())
        assert shown.status_code == 303 and shown.headers["location"].startswith("/select-account?")
        page = await browser.get(shown.headers["location"])
        assert page.status_code == 200 and f"You are logged in as Anna Muster ({anna})" in page.text
        form = {
            "request": hidden(page.text, "request"),
            "csrf_token": hidden(page.text, "csrf_token"),
        }
        forged = await browser.post("/select-account", data={**form, "csrf_token": "x"})
        assert forged.status_code == 403
        kept = await browser.post("/select-account", data={**form, "choice": "continue"})
        assert kept.status_code == 303
        tokens = await exchange(identity, client, kept.headers["location"], verifier)
        assert (
            jwt.decode(tokens["id_token"], options={"verify_signature": False})["sub"] == anna_sub
        )

        page = await browser.get((await browser.get(choose())).headers["location"])
        other = await browser.post(
            "/select-account",
            data={
                "request": hidden(page.text, "request"),
                "csrf_token": hidden(page.text, "csrf_token"),
                "choice": "other",
            },
        )
        assert other.status_code == 200 and 'name="password"' in other.text
        switched = await browser.post(
            "/login",
            data={
                "csrf_token": hidden(other.text, "csrf_token"),
                "request": hidden(other.text, "request"),
                "email": bruno,
                "password": "correct horse battery",
            },
        )
        assert switched.status_code == 303
        tokens = await exchange(identity, client, switched.headers["location"], verifier)
        claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
        assert claims["sub"] != anna_sub

    # Nobody logged in: the login form at once.
    async with identity.http() as stranger:
        page = await stranger.get(choose())
        assert page.status_code == 200 and 'name="password"' in page.text


async def test_logout_without_id_token_hint_asks_the_person(identity, commune):
    client = await web_app(commune)
    client_id = client[0]
    email = await new_person(commune)
    verifier, challenge = pkce_pair()
    async with identity.http(headers={"Accept-Language": "en"}) as browser:

        async def still_logged_in() -> bool:
            response = await browser.get(authorize_url(client_id, challenge))
            return response.status_code == 303

        done = await log_in(browser, authorize_url(client_id, challenge), email)
        await exchange(identity, client, done.headers["location"], verifier)
        # Another site links (or embeds an image) to the logout endpoint.
        params = {"client_id": client_id, "post_logout_redirect_uri": BYE, "state": "s1"}
        asked = await browser.get("/logout", params=params)
        assert asked.status_code == 200 and "Do you want to log out?" in asked.text
        assert '<form method="post" action="/logout">' in asked.text
        assert "<script" not in asked.text  # a plain form: works without JavaScript
        assert await still_logged_in()
        # A cross-site form post of the confirmation, without the CSRF token, does nothing.
        fields = {
            name: hidden(asked.text, name)
            for name in ("confirm", "client_id", "post_logout_redirect_uri", "state")
        }
        forged = await browser.post("/logout", data={**fields, "csrf_token": "forged"})
        assert forged.status_code == 403
        assert await still_logged_in()
        # The person presses the button.
        confirmed = await browser.post(
            "/logout", data={**fields, "csrf_token": hidden(asked.text, "csrf_token")}
        )
        assert confirmed.status_code == 303
        assert confirmed.headers["location"] == f"{BYE}?state=s1"
        assert not await still_logged_in()


async def test_logout_with_another_persons_id_token_hint_asks_too(identity, commune):
    client = await web_app(commune)
    anna, bruno = await new_person(commune), await new_person(commune)
    verifier, challenge = pkce_pair()
    async with identity.http() as other_browser:
        done = await log_in(other_browser, authorize_url(client[0], challenge), bruno)
        brunos = (await exchange(identity, client, done.headers["location"], verifier))["id_token"]
    async with identity.http(headers={"Accept-Language": "de"}) as browser:
        done = await log_in(browser, authorize_url(client[0], challenge), anna)
        annas = (await exchange(identity, client, done.headers["location"], verifier))["id_token"]
        asked = await browser.get("/logout", params={"id_token_hint": brunos})
        assert asked.status_code == 200 and "Möchten Sie sich abmelden?" in asked.text
        # Anna's own application, with her ID token, logs her out at once.
        out = await browser.get(
            "/logout", params={"id_token_hint": annas, "post_logout_redirect_uri": BYE}
        )
        assert out.status_code == 303 and out.headers["location"] == BYE


async def test_id_token_hint_with_prompt_none(identity, commune):
    # A pairwise client: the hint's sub is not the account id, and still matches.
    client = await web_app(commune, subject_type="pairwise")
    client_id = client[0]
    anna, bruno = await new_person(commune), await new_person(commune)
    verifier, challenge = pkce_pair()
    async with identity.http() as bruno_browser:
        done = await log_in(bruno_browser, authorize_url(client_id, challenge), bruno)
        brunos = (await exchange(identity, client, done.headers["location"], verifier))["id_token"]
    async with identity.http() as browser:
        done = await log_in(browser, authorize_url(client_id, challenge), anna)
        annas = (await exchange(identity, client, done.headers["location"], verifier))["id_token"]

        same = await browser.get(
            authorize_url(client_id, challenge, prompt="none", id_token_hint=annas)
        )
        assert same.status_code == 303
        tokens = await exchange(identity, client, same.headers["location"], verifier)
        assert (
            jwt.decode(tokens["id_token"], options={"verify_signature": False})["sub"]
            == (jwt.decode(annas, options={"verify_signature": False})["sub"])
        )
        # The client expects Bruno, Anna is logged in: login_required, no code for Anna.
        other = await browser.get(
            authorize_url(client_id, challenge, prompt="none", id_token_hint=brunos)
        )
        assert "code" not in error_back(other, "login_required")
        # Without prompt=none the person is asked to log in.
        form = await browser.get(authorize_url(client_id, challenge, id_token_hint=brunos))
        assert form.status_code == 200 and 'name="password"' in form.text
        # A hint we did not sign, or signed for another client, is refused.
        forged = jwt.encode({"iss": ISSUER, "sub": "x", "aud": client_id}, "k" * 32)
        bad = await browser.get(
            authorize_url(client_id, challenge, prompt="none", id_token_hint=forged)
        )
        error_back(bad, "invalid_request")
        other_client, _ = await web_app(commune)
        elsewhere = await browser.get(
            authorize_url(other_client, challenge, prompt="none", id_token_hint=annas)
        )
        error_back(elsewhere, "invalid_request")


def rsa_key_without_alg() -> tuple[rsa.RSAPrivateKey, dict]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    public.pop("key_ops", None)
    public["kid"] = uuid.uuid4().hex[:8]
    assert "alg" not in public and "use" not in public
    return private, public


def client_assertion(private, client_id: str, kid: str, alg: str, aud: str) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, private, algorithm=alg, headers={"kid": kid})


async def test_ps256_client_assertions_with_an_rsa_key_without_alg(identity, commune):
    private, public = rsa_key_without_alg()
    client_id, secret = await commune.add_client(
        name="Signed ERP",
        grant_types=["client_credentials"],
        scopes=["payments:read"],
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [public]},
    )
    assert secret is None
    kid = public["kid"]

    def signed(alg: str, endpoint: str) -> dict[str, str]:
        return {
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion(private, client_id, kid, alg, ISSUER + endpoint),
        }

    for alg in ("PS256", "RS256"):
        response = await identity.client.post(
            "/token", data={"grant_type": "client_credentials", **signed(alg, "/token")}
        )
        assert response.status_code == 200, (alg, response.text)
    token = response.json()["access_token"]
    introspected = await identity.client.post(
        "/introspect", data={"token": token, **signed("PS256", "/introspect")}
    )
    assert introspected.status_code == 200 and introspected.json()["active"] is True
    revoked = await identity.client.post(
        "/revoke", data={"token": token, **signed("PS256", "/revoke")}
    )
    assert revoked.status_code == 200
    # An RSA key verifies no ES256 assertion, even one naming its kid.
    stranger = ec.generate_private_key(ec.SECP256R1())
    es256 = client_assertion(stranger, client_id, kid, "ES256", ISSUER + "/token")
    refused = await identity.client.post(
        "/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": es256,
        },
    )
    assert_oauth_error(refused, "invalid_client")
