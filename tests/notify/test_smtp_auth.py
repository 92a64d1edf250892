"""SMTP authentication when configured, against a real aiosmtpd server that requires it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from socle_dev.localinfra import free_port
from socle_dev.testing import eventually
from tests.support.notify import create_template, email_template


class Mailbox:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((session.auth_data.login.decode(), list(envelope.rcpt_tos)))
        return "250 OK"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        b"commune",
        b"s3cret",
    )
    return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def auth_smtp() -> Iterator[tuple[int, Mailbox]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    yield port, mailbox
    controller.stop()


async def test_mail_is_sent_with_the_configured_credentials(
    auth_smtp, notify, admin, sender, tenant
):
    port, mailbox = auth_smtp
    to = f"auth.{tenant}@vevey.ch"
    async with notify(smtp_port=port, smtp_username="commune", smtp_password="s3cret") as client:
        template = await create_template(
            client, admin, email_template(fr={"subject": "S", "body": "B"})
        )
        await client.post(
            "/v1/notifications/email",
            json={"template_id": template["id"], "to": to},
            headers=sender,
        )

        async def received() -> list:
            return mailbox.received

        assert await eventually(received, "the authenticated mail") == [("commune", [to])]


async def test_wrong_credentials_keep_the_mail_for_a_retry(
    auth_smtp, notify, admin, sender, tenant
):
    port, mailbox = auth_smtp
    async with notify(
        smtp_port=port, smtp_username="commune", smtp_password="wrong", retry_base_seconds=30
    ) as client:
        template = await create_template(
            client, admin, email_template(fr={"subject": "S", "body": "B"})
        )
        created = (
            await client.post(
                "/v1/notifications/email",
                json={"template_id": template["id"], "to": f"x.{tenant}@vevey.ch"},
                headers=sender,
            )
        ).json()

        async def failed() -> dict | None:
            body = (await client.get(f"/v1/notifications/{created['id']}", headers=sender)).json()
            return body if body["status"] == "temporary_failure" else None

        body = await eventually(failed, "a temporary failure")
        assert body["error"].startswith("smtp-auth-535")
        assert mailbox.received == []
