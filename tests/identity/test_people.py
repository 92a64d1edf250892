"""Citizens and staff: self-registration with e-mail verification, password reset, the
second factor raising acr, account deletion, languages."""

from __future__ import annotations

import jwt
import pyotp

from socle_dev.events import EventRecorder
from tests.support.identity import (
    PASSWORD,
    account_token,
    authorize_url,
    code_flow_client,
    hidden,
    log_in,
    pkce_pair,
    query,
    redeem_code,
    tokens_after_login,
)


async def test_citizen_registers_verifies_email_and_logs_in(identity, commune, nats_server):
    client_id, secret = await code_flow_client(commune)
    async with (
        identity.http(headers={"Accept-Language": "de-CH,de;q=0.9,en;q=0.5"}) as browser,
        EventRecorder(nats_server.url, subject=f"socle.{commune.tenant}.user.>") as events,
    ):
        page = await browser.get("/register", params={"client_id": client_id})
        assert page.status_code == 200 and "Konto erstellen" in page.text
        form = {
            "csrf_token": hidden(page.text, "csrf_token"),
            "client_id": client_id,
            "email": "claire@example.ch",
            "password": "short",
            "given_name": "Claire",
            "family_name": "Dupont",
        }
        weak = await browser.post("/register", data=form)
        assert weak.status_code == 422 and "mindestens 10 Zeichen" in weak.text
        done = await browser.post("/register", data={**form, "password": "a good long password"})
        assert done.status_code == 200 and "E-Mail geschickt" in done.text
        registered = await events.first("user.registered")
        data = registered["data"]
        assert set(data) == {"user_id", "locale", "commune"}  # no address, no link on the bus
        assert data["locale"] == "de"
        mail = await events.account_mail(registered)  # as notify asks when it mails
        assert mail["email"] == "claire@example.ch"
        assert mail["verification_url"].startswith("http://testserver/verify-email?token=")

        verified = await browser.get(mail["verification_url"].removeprefix("http://testserver"))
        assert verified.status_code == 200 and "bestätigt" in verified.text
        event = await events.first("user.email_verified")
        assert event["data"] == {"user_id": data["user_id"]}

    # The new citizen logs in with the password chosen at registration.
    async with identity.http() as browser:
        verifier, challenge = pkce_pair()
        done = await log_in(
            browser,
            authorize_url(client_id, challenge, scope="openid email"),
            "claire@example.ch",
            "a good long password",
        )
        assert done.status_code == 303
        response = await redeem_code(
            identity.client, query(done.headers["location"])["code"], verifier, (client_id, secret)
        )
    id_token = jwt.decode(response.json()["id_token"], options={"verify_signature": False})
    assert id_token["sub"] == data["user_id"] and id_token["email_verified"] is True


async def test_login_page_speaks_the_browser_language_and_can_switch(identity, commune):
    client_id, _ = await code_flow_client(commune)
    _, challenge = pkce_pair()
    url = authorize_url(client_id, challenge)
    expectations = {
        "fr-CH": "Mot de passe",
        "de-CH": "Passwort",
        "it-CH": "Password",
        "en-GB": "Log in",
    }
    for language, word in expectations.items():
        async with identity.http(headers={"Accept-Language": language}) as browser:
            page = await browser.get(url)
            assert page.status_code == 200
            assert f'lang="{language[:2]}"' in page.text and word in page.text
    async with identity.http(headers={"Accept-Language": "en"}) as browser:
        switched = await browser.get(url + "&lang=it")
        assert 'lang="it"' in switched.text and "Accedi" in switched.text
        # The choice sticks for the next pages.
        again = await browser.get(url)
        assert 'lang="it"' in again.text


async def test_password_reset_by_e_mail_link(identity, commune, nats_server):
    client_id, _ = await code_flow_client(commune)
    await commune.add_user("dora@example.ch")
    async with (
        identity.http() as browser,
        EventRecorder(nats_server.url, subject=f"socle.{commune.tenant}.user.>") as events,
    ):
        page = await browser.get("/password-reset", params={"client_id": client_id})
        csrf = hidden(page.text, "csrf_token")
        asked = await browser.post(
            "/password-reset",
            data={"csrf_token": csrf, "client_id": client_id, "email": "dora@example.ch"},
        )
        assert asked.status_code == 200
        event = await events.first("user.password_reset_requested")
        # Unknown addresses get the same answer and no mail.
        unknown = await browser.post(
            "/password-reset",
            data={"csrf_token": csrf, "client_id": client_id, "email": "nobody@example.ch"},
        )
        assert unknown.text == asked.text
        assert set(event["data"]) == {"user_id", "locale", "commune"}
        link = (await events.account_mail(event))["reset_url"].removeprefix("http://testserver")
        form = await browser.get(link)
        token = hidden(form.text, "token")
        changed = await browser.post(
            "/password-reset/confirm",
            data={"csrf_token": csrf, "token": token, "password": "my new long password"},
        )
        assert changed.status_code == 200
        # The link works once.
        reused = await browser.post(
            "/password-reset/confirm",
            data={"csrf_token": csrf, "token": token, "password": "yet another password"},
        )
        assert reused.status_code == 400
    async with identity.http() as browser:
        _, challenge = pkce_pair()
        old = await log_in(browser, authorize_url(client_id, challenge), "dora@example.ch")
        assert old.status_code == 401
        new = await log_in(
            browser, authorize_url(client_id, challenge), "dora@example.ch", "my new long password"
        )
        assert new.status_code == 303


async def test_second_factor_raises_acr_to_substantial(identity, commune):
    client_id, secret = await code_flow_client(commune)
    await commune.add_user("emil@example.ch")
    async with identity.http() as browser:
        await tokens_after_login(identity, browser, client_id, secret, "emil@example.ch")
        # Identity's own account pages enrol the second factor, with the login session.
        me = {"Authorization": f"Bearer {await account_token(browser)}"}
    started = await identity.client.post("/v1/me/totp", headers=me)
    assert started.status_code == 201, started.text
    secret_b32 = started.json()["secret"]
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/")
    wrong = await identity.client.post("/v1/me/totp/confirm", json={"code": "000000"}, headers=me)
    assert wrong.status_code == 422 and wrong.json()["type"].endswith("totp-code-invalid")
    totp = pyotp.TOTP(secret_b32)
    confirmed = await identity.client.post(
        "/v1/me/totp/confirm", json={"code": totp.now()}, headers=me
    )
    recovery = confirmed.json()["recovery_codes"]
    assert len(recovery) == 10

    async with identity.http() as browser:
        verifier, challenge = pkce_pair()
        step = await log_in(browser, authorize_url(client_id, challenge), "emil@example.ch")
        assert step.status_code == 200 and 'name="code"' in step.text
        csrf, pending = hidden(step.text, "csrf_token"), hidden(step.text, "pending")
        bad = await browser.post(
            "/login/totp", data={"csrf_token": csrf, "pending": pending, "code": "123456"}
        )
        assert bad.status_code == 401 and "location" not in bad.headers
        # A recovery code works once.
        done = await browser.post(
            "/login/totp", data={"csrf_token": csrf, "pending": pending, "code": recovery[0]}
        )
        assert done.status_code == 303
        response = await redeem_code(
            identity.client, query(done.headers["location"])["code"], verifier, (client_id, secret)
        )
        id_token = jwt.decode(response.json()["id_token"], options={"verify_signature": False})
        assert id_token["acr"] == "urn:socle:loa:substantial"
        assert id_token["amr"] == ["pwd", "otp"]
        again = await browser.post(
            "/login/totp", data={"csrf_token": csrf, "pending": pending, "code": recovery[0]}
        )
        assert again.status_code == 401


async def test_citizen_deletes_own_account(identity, commune, nats_server):
    client_id, secret = await code_flow_client(commune)
    user_id = await commune.add_user("fritz@example.ch")
    async with identity.http() as browser:
        tokens = await tokens_after_login(identity, browser, client_id, secret, "fritz@example.ch")
        account = {"Authorization": f"Bearer {await account_token(browser)}"}
    me = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await identity.client.get("/v1/me", headers=me)).json()["id"] == user_id
    async with EventRecorder(
        nats_server.url, subject=f"socle.{commune.tenant}.user.deleted"
    ) as events:
        gone = await identity.client.delete("/v1/me", headers=account)
        assert gone.status_code == 204
        event = await events.first("user.deleted")
    assert event["data"] == {"user_id": user_id}
    assert event["subject"] == f"user:{user_id}"
    assert (await identity.client.get("/userinfo", headers=me)).status_code == 401
    async with identity.http() as browser:
        _, challenge = pkce_pair()
        refused = await log_in(browser, authorize_url(client_id, challenge), "fritz@example.ch")
        assert refused.status_code == 401


async def test_staff_and_citizens_carry_their_roles(identity, commune):
    client_id, secret = await code_flow_client(commune)
    await commune.add_user("greta@example.ch", roles=["agent"])
    async with identity.http() as browser:
        tokens = await tokens_after_login(identity, browser, client_id, secret, "greta@example.ch")
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["roles"] == ["agent"] and claims["tenant"] == commune.tenant
    assert PASSWORD not in str(claims)
