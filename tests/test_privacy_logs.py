"""Nothing of a person in the logs: a person registers at identity (real HTTP) and confirms
the mailed link, logs in, refreshes the tokens, resets the password by the mailed link; has
documents, a payment, notifications and a request; asks for an export (mailed link) and is
erased. Every log line the five services write meanwhile (their JSON lines on stderr, at
DEBUG) is scanned: the person's address, names, passwords, tokens, authorisation code and
one-time links appear in none."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from sqlalchemy import select

from socle_dev.testing import eventually
from socle_identity import directory
from socle_identity.models import User
from tests.support.identity import (
    REDIRECT,
    add_client,
    ask_password_reset,
    authorize_url,
    hidden,
    log_in,
    pkce_pair,
    query,
    redeem_code,
    register,
)
from tests.support.logscan import captured_logs, leaks
from tests.support.privacy import PDF, notification, pay, procedure_request, until_status, upload
from tests.support.privacy_export import platform

EMAIL = "zoraida.quellenberg.7f3a@example.ch"
GIVEN, FAMILY = "Zoraida", "Quellenberg"
PASSWORD = "Xylophon-Mondschein-93421"
NEW_PASSWORD = "Kastanienbaum-Regenbogen-57730"
LOGS = {"log_level": "DEBUG"}


def _links(smtp_sink: Any, needle: str) -> list[str]:
    found = []
    for message in smtp_sink.to(EMAIL):
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                text = part.get_payload(decode=True).decode()
                found += [u for u in re.findall(r"https?://\S+", text) if needle in u]
    return found


async def _mailed_link(smtp_sink: Any, needle: str) -> str:
    async def mailed() -> list[str]:
        return _links(smtp_sink, needle)

    # a safety net, not a measure: notify may first work through events of earlier tests
    found = await eventually(mailed, f"the mail with a {needle} link", within=120)
    return str(found[-1])


async def _reset_password(http: httpx.AsyncClient, client_id: str, smtp_sink: Any) -> str:
    asked = await ask_password_reset(http, client_id, EMAIL)
    assert asked.status_code == 200, asked.text
    link = await _mailed_link(smtp_sink, "/password-reset/confirm")
    form = await http.get(link)
    assert form.status_code == 200, form.text
    done = await http.post(
        "/password-reset/confirm",
        data={
            "csrf_token": hidden(form.text, "csrf_token"),
            "token": query(link)["token"],
            "password": NEW_PASSWORD,
        },
    )
    assert done.status_code == 200, done.text
    return link


async def test_no_log_line_carries_the_person_s_address_names_passwords_tokens_or_links(
    migrated_database, private_nats, s3_server, smtp_sink, tenant
):
    more: dict[str, dict[str, Any]] = {
        "identity": LOGS,
        "storage": LOGS,
        "payment": LOGS,
        "procedures": LOGS,
        "notify": {**LOGS, "smtp_port": smtp_sink.port, "worker_poll_seconds": 0.1},
    }
    secrets: dict[str, str] = {}
    with captured_logs() as logs:
        async with platform(migrated_database, private_nats, s3_server, tenant, more) as (
            identity,
            issuer,
            token,
            apps,
            clients,
        ):
            admin = {"Authorization": f"Bearer {token}"}
            portal, portal_secret = await add_client(
                identity.state.runtime.sessions,
                tenant,
                directory.ClientSpec(
                    name="Portal",
                    redirect_uris=[REDIRECT],
                    scopes=["openid", "email", "profile"],
                    grant_types=["authorization_code", "refresh_token"],
                ),
            )
            client_id, client_secret = portal.client_id, str(portal_secret)
            async with httpx.AsyncClient(base_url=issuer, timeout=30) as browser:
                # registers, confirms the mailed link
                sent = await register(browser, client_id, EMAIL, PASSWORD, GIVEN, FAMILY)
                assert sent.status_code == 200, sent.text
                verify = await _mailed_link(smtp_sink, "/verify-email")
                secrets["verification link"] = query(verify)["token"]
                link = urlsplit(verify)
                confirmed = await browser.get(f"{link.path}?{link.query}")
                assert confirmed.status_code == 200, confirmed.text
                # logs in (code flow with PKCE), refreshes, reads userinfo
                verifier, challenge = pkce_pair()
                done = await log_in(
                    browser,
                    authorize_url(client_id, challenge, scope="openid email profile"),
                    EMAIL,
                    PASSWORD,
                )
                assert done.status_code == 303, done.text
                code = query(done.headers["location"])["code"]
                secrets["authorisation code"] = code
                tokens = (
                    await redeem_code(browser, code, verifier, (client_id, client_secret))
                ).json()
                refreshed = await browser.post(
                    "/token",
                    data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                    auth=(client_id, client_secret),
                )
                assert refreshed.status_code == 200, refreshed.text
                me = await browser.get(
                    "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
                )
                assert me.status_code == 200 and me.json()["email"] == EMAIL
                for name in ("access_token", "refresh_token", "id_token"):
                    secrets[name] = tokens[name]
                    secrets[f"refreshed {name}"] = refreshed.json()[name]
                # a refused login and a reused refresh token are logged: without the person
                async with httpx.AsyncClient(base_url=issuer, timeout=30) as stranger:
                    wrong = await log_in(
                        stranger, authorize_url(client_id, challenge), EMAIL, "wrong" * 4
                    )
                assert wrong.status_code != 303  # refused
                reused = await browser.post(
                    "/token",
                    data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                    auth=(client_id, client_secret),
                )
                assert reused.status_code == 400
                secrets["reset link"] = query(await _reset_password(browser, client_id, smtp_sink))[
                    "token"
                ]

            async with identity.state.runtime.sessions() as session:
                person = await session.scalar(select(User.id).where(User.email == EMAIL))
            assert person is not None
            await upload(clients["storage"], admin, person, "id-card")
            named = await clients["storage"].post(  # a file named after the person
                "/v1/documents",
                headers=admin,
                files={"file": (f"{GIVEN}-{FAMILY}-passport.pdf", PDF, "application/pdf")},
                data={"kind": "id-card", "owner": person},
            )
            assert named.status_code == 201, named.text
            await pay(clients["payment"], admin, person, EMAIL)
            await notification(apps["notify"], tenant, person, EMAIL)
            await procedure_request(apps["procedures"], tenant, person, EMAIL, None)
            # a bad upload for the person is refused (and logged) without their data
            refused = await clients["storage"].post(
                "/v1/documents",
                headers=admin,
                files={"file": (f"{FAMILY}.exe", b"MZ\x90\x00", "application/octet-stream")},
                data={"kind": "id-card", "owner": person},
            )
            assert refused.status_code in (415, 422), refused.text

            async with httpx.AsyncClient(base_url=issuer, headers=admin, timeout=30) as http:
                asked = await http.post(f"/v1/users/{person}/export")
                assert asked.status_code == 202, asked.text
                export_url = asked.headers["location"]
                await until_status(http, export_url, "ready", "the export to be ready")
                await _mailed_link(smtp_sink, "/account/exports/")
                archive = await http.get(f"{export_url}/archive")
                assert archive.status_code == 200
                deleted = await http.delete(f"/v1/users/{person}")
                assert deleted.status_code == 204, deleted.text
                report_url = deleted.headers["location"]
                await until_status(
                    http, report_url, "complete", "every service to erase the person"
                )

    text = logs.getvalue()
    assert text.count('"event": "service_starting"') >= 5  # the scan saw every service
    for seen in ("refresh_token_reused", "document_uploaded", "event_handled"):
        assert f'"event": "{seen}"' in text  # and the lines of the flow itself
    assert {"verification link", "reset link", "access_token", "refresh_token"} <= set(secrets)
    needles = {
        "e-mail address": EMAIL,
        "e-mail address (URL-encoded)": quote(EMAIL),
        "e-mail local part": EMAIL.split("@")[0],
        "given name": GIVEN,
        "family name": FAMILY,
        "password": PASSWORD,
        "new password": NEW_PASSWORD,
        **secrets,
    }
    assert leaks(text, needles) == {}
