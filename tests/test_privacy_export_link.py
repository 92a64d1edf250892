"""The person's export link: once every service has written its part, identity publishes
``person.export.available``; notify mails the person (real SMTP sink) the link to identity's
page of the export; the link works for the person (logged in), not for another person; once
its time is over (the clock moved by backdating the export) it answers 410 and the parts are
gone from the object store."""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import httpx

from socle.db import utcnow
from socle_dev.testing import eventually
from socle_identity import directory, export_links
from socle_identity.models import Export
from tests.support.identity import add_client, log_in, pkce_pair
from tests.support.privacy import EMAIL, citizen, upload
from tests.support.privacy_export import BOB, platform

PASSWORD = "a long enough passphrase 42"
REDIRECT = "https://portal.example.ch/callback"


async def login_app(identity, tenant: str) -> str:
    client, _ = await add_client(
        identity.state.runtime.sessions,
        tenant,
        directory.ClientSpec(name="Portal", public=True, redirect_uris=[REDIRECT]),
    )
    return str(client.client_id)


async def logged_in(issuer: str, client_id: str, email: str) -> httpx.AsyncClient:
    """A browser logged in at identity (its login-session cookie)."""
    browser = httpx.AsyncClient(base_url=issuer, timeout=30)
    _, challenge = pkce_pair()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "scope": "openid",
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    done = await log_in(browser, f"/authorize?{query}", email, PASSWORD)
    assert done.status_code == 303, done.text
    assert browser.cookies.get("socle_session")
    return browser


async def test_the_person_is_mailed_a_link_that_works_until_it_expires_and_the_export_is_deleted(
    migrated_database, private_nats, s3_server, smtp_sink, tenant
):
    more = {
        "identity": {"export_link_seconds": 3600, "export_purge_seconds": 0},
        "notify": {"smtp_port": smtp_sink.port, "worker_poll_seconds": 0.1},
    }
    async with platform(migrated_database, private_nats, s3_server, tenant, more) as (
        identity,
        issuer,
        token,
        apps,
        clients,
    ):
        auth = {"Authorization": f"Bearer {token}"}
        person = await citizen(identity, tenant, EMAIL)
        await citizen(identity, tenant, BOB)
        await upload(clients["storage"], auth, person, "id-card")
        client_id = await login_app(identity, tenant)
        browser = await logged_in(issuer, client_id, EMAIL)
        stranger = await logged_in(issuer, client_id, BOB)
        async with contextlib.aclosing(browser), contextlib.aclosing(stranger):
            page = await browser.get("/account/export")
            assert page.status_code == 200
            csrf = browser.cookies["socle_csrf"]
            asked = await browser.post("/account/export", data={"csrf_token": csrf})
            assert asked.status_code == 303, asked.text
            export_id = asked.headers["location"].rsplit("/", 1)[1]

            def mails() -> list[str]:
                return [
                    part.get_payload(decode=True).decode()
                    for m in smtp_sink.to(EMAIL)
                    for part in m.walk()
                    if part.get_content_type() == "text/plain"
                    and export_id in part.get_payload(decode=True).decode()
                ]

            async def mailed() -> bool:
                return bool(mails())

            await eventually(mailed, "the mail with the export link", within=60)
            (text,) = mails()
            link = re.search(r"https?://\S+", text)
            assert link is not None, text
            assert link.group(0) == f"{issuer}/account/exports/{export_id}"
            path = urlsplit(link.group(0)).path

            ready = await browser.get(path)
            assert ready.status_code == 200, ready.text
            assert f"/account/exports/{export_id}/archive" in ready.text
            archive = await browser.get(f"{path}/archive")
            assert archive.status_code == 200, archive.text
            with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
                assert "identity.json" in zf.namelist()
            # another person's link: unknown to them
            assert (await stranger.get(path)).status_code == 404
            assert (await stranger.get(f"{path}/archive")).status_code == 404

            store = apps["storage"].state.runtime.context.store
            bucket = store.bucket_for(tenant)

            def parts() -> list[str]:
                return [
                    str(o.object_name)
                    for o in store.client.list_objects(bucket, prefix=f"exports/{export_id}/")
                ]

            assert len(parts()) == 5
            # the link's time is over (the clock moved on by backdating the export)
            async with identity.state.runtime.sessions() as session, session.begin():
                export = await session.get(Export, export_id)
                assert export is not None and export.expires_at is not None
                assert export.expires_at - export.notified_at == timedelta(seconds=3600)
                export.expires_at = utcnow() - timedelta(seconds=1)
            gone = await browser.get(path)
            assert gone.status_code == 410
            assert "text/html" in gone.headers["content-type"]
            assert (await browser.get(f"{path}/archive")).status_code == 410
            async with httpx.AsyncClient(base_url=issuer, headers=auth) as admin:
                problem = await admin.get(f"/v1/exports/{export_id}/archive")
                assert problem.status_code == 410
                assert problem.headers["content-type"] == "application/problem+json"
                assert (await admin.get(f"/v1/exports/{export_id}")).json()["status"] == "expired"

            settings = identity.state.runtime.settings
            deleted = await export_links.purge_expired(identity.state.runtime.sessions, settings)
            assert deleted == 1
            assert parts() == []
            async with identity.state.runtime.sessions() as session:
                export = await session.get(Export, export_id)
                assert export is not None and export.deleted_at is not None
            # a second run has nothing left to do
            assert await export_links.purge_expired(identity.state.runtime.sessions, settings) == 0
