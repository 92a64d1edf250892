"""Identity's account mails through notify, both real (in-process, real NATS, PostgreSQL and
SMTP sink): the events carry no address and no link, notify asks identity for them, the
person gets the mail and its link works; nothing of the address or the link is on the bus."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import nats

from socle_dev.testing import eventually, running
from socle_identity import directory
from socle_identity.app import create_app as create_identity
from socle_notify.app import create_app as create_notify
from socle_notify.settings import NotifySettings
from tests.support.identity import (
    ask_password_reset,
    quick_settings,
    tenant_with_client,
    verified_citizen,
)

ISSUER = "http://testserver"


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


async def test_a_reset_mail_reaches_the_person_without_its_link_on_the_bus(
    migrated_database: Any, private_nats: Any, smtp_sink: Any, issuer: Any, tmp_path: Any
) -> None:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    email = f"anna.{tenant}@example.ch"
    identity = create_identity(
        quick_settings(
            migrated_database("identity"),
            private_nats.url,
            ISSUER,
            outbox_poll_seconds=0.1,
        )
    )
    notify = create_notify(
        NotifySettings(
            database_url=migrated_database("notify"),
            nats_url=private_nats.url,
            issuer=issuer.issuer,
            jwks_url=issuer.jwks_url,
            smtp_host="127.0.0.1",
            smtp_port=smtp_sink.port,
            mail_from="Commune <noreply@commune.ch>",
            sms_sink_dir=str(tmp_path / "sms"),
            worker_poll_seconds=0.05,
            outbox_poll_seconds=0.05,
        )
    )
    seen: list[bytes] = []
    watcher = await nats.connect(private_nats.url)

    async def keep(msg: Any) -> None:
        seen.append(msg.data)

    await watcher.subscribe(f"socle.{tenant}.>", cb=keep)
    try:
        async with running(identity), running(notify):
            client, _ = await tenant_with_client(
                identity.state.runtime.sessions,
                tenant,
                directory.ClientSpec(
                    name="Portail",
                    redirect_uris=["https://app.example.ch/callback"],
                    scopes=["openid"],
                    grant_types=["authorization_code"],
                ),
                name="Commune de Vevey",
                passwords=identity.state.runtime.context.provider.passwords,
                users=[verified_citizen(email, "a long enough password")],
            )
            transport = httpx.ASGITransport(app=identity)
            async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as browser:
                asked = await ask_password_reset(browser, client.client_id, email)
                assert asked.status_code == 200

                async def mailed() -> bool:
                    return bool(smtp_sink.to(email))

                await eventually(mailed, "the reset mail")
                [mail] = smtp_sink.to(email)
                body = next(
                    part.get_payload(decode=True).decode()
                    for part in mail.walk()
                    if part.get_content_type() == "text/plain"
                )
                link = re.search(r"http://testserver(/password-reset/confirm\?token=\S+)", body)
                assert link, body
                form = await browser.get(link.group(1))
                assert form.status_code == 200 and "token" in form.text
    finally:
        await watcher.drain()
    events = [json.loads(raw) for raw in seen]
    assert [e["type"] for e in events if e["type"].startswith("user.")] == [
        "user.password_reset_requested"
    ]
    for raw in seen:
        assert email.encode() not in raw and b"token=" not in raw
