"""Helpers of the notify tests: tokens, templates, sent mails, the rows of notifications."""

from __future__ import annotations

from email.message import Message
from typing import Any

import httpx
from sqlalchemy import select

from socle.events import CloudEvent
from socle_notify.models import Notification

BACK_OFFICE = "commune-back-office"


def client_token(issuer: Any, tenant: str, scopes: list[str], client: str = BACK_OFFICE) -> str:
    """A commune's service acting for itself (client credentials: ``sub`` is its client id)."""
    return str(
        issuer.token(
            audience="socle-notify",
            tenant=tenant,
            scopes=scopes,
            subject=client,
            client_id=client,
            roles=(),
        )
    )


def person_token(
    issuer: Any, tenant: str, subject: str, roles: tuple[str, ...], scopes: list[str]
) -> dict[str, str]:
    """A person's token, through the portal's public client."""
    token = issuer.token(
        audience="socle-notify",
        tenant=tenant,
        scopes=scopes,
        subject=subject,
        client_id="portal",
        roles=roles,
    )
    return {"Authorization": f"Bearer {token}"}


def email_template(**contents: dict[str, str]) -> dict[str, Any]:
    return {
        "name": "Accusé de réception",
        "channel": "email",
        "default_language": "fr",
        "contents": contents,
    }


async def create_template(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post("/v1/templates", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


TEMPLATE = email_template(
    fr={
        "subject": "Votre demande ((reference))",
        "body": "Bonjour ((name)),\nvotre demande ((reference)) est reçue.",
        "html": "<p>Bonjour ((name)), demande <b>((reference))</b> reçue.</p>",
    },
    de={
        "subject": "Ihr Gesuch ((reference))",
        "body": "Guten Tag ((name))\nIhr Gesuch ((reference)) ist eingegangen.",
        "html": "<p>Guten Tag ((name)), Gesuch <b>((reference))</b>.</p>",
    },
)


def address(tenant: str, who: str = "anna") -> str:
    return f"{who}.{tenant}@vevey.ch"


def parts(message: Message) -> dict[str, str]:
    out = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            out[part.get_content_subtype()] = part.get_payload(decode=True).decode()
    return out


async def send_one(client: Any, admin: dict[str, str], sender: dict[str, str], to: str) -> str:
    template = await create_template(client, admin, TEMPLATE)
    created = await client.post(
        "/v1/notifications/email",
        json={
            "template_id": template["id"],
            "to": to,
            "personalisation": {"name": "A", "reference": "R"},
        },
        headers=sender,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def notification_row(runtime: Any, notification_id: str) -> Notification:
    async with runtime.sessions() as session:
        row: Notification = (
            await session.execute(select(Notification).where(Notification.id == notification_id))
        ).scalar_one()
        return row


def decision(tenant: str) -> CloudEvent:
    """A citizen shared a document with a procedure (an event the commune's systems follow)."""
    return CloudEvent.new(
        service="storage",
        type="document.shared",
        tenant=tenant,
        data={"document_id": "doc-1", "procedure": "pr-1"},
    )
