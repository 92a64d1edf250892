"""Preparing a message: validate the recipient, render the template, and queue the result.

Accepting renders the message at once, so a caller hears about an unknown template, a missing
personalisation value or a bad address in the answer, not later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import utcnow
from socle.tracing import current_traceparent
from socle_notify.common import new_id, normalise_email, normalise_phone
from socle_notify.errors import MissingPersonalisation, SmsTooLong
from socle_notify.models import Notification
from socle_notify.render import BUILTIN, render, sms_fragments
from socle_notify.sealing import content_columns, is_secret_event
from socle_notify.settings import NotifySettings
from socle_notify.templates import Templates, TemplateView

_NEW_NOTIFICATION = insert(cast(Table, Notification.__table__))  # built once

FINAL = ("delivered", "permanent_failure", "cancelled")
PENDING = ("created", "sending", "temporary_failure")
LANGUAGES = ("fr", "de", "it", "en")


@dataclass(frozen=True)
class Prepared:
    recipient: str
    language: str
    subject: str | None
    body: str
    html: str | None
    secret: bool = False


class Messages:
    """Turns a template (or a built-in message) and its values into a queued notification."""

    def __init__(self, settings: NotifySettings, templates: Templates) -> None:
        self.settings = settings
        self.templates = templates
        self.on_change: Callable[[], None] = lambda: None

    def prepare(
        self, view: TemplateView, to: str, personalisation: dict[str, Any], language: str | None
    ) -> Prepared:
        """Validate the recipient and render; raise what a caller can fix."""
        channel = view.template.channel
        if channel == "email":
            recipient = normalise_email(to)
        else:
            recipient = normalise_phone(to, self.settings.default_phone_region)
        chosen = self.templates.pick_language(view, language)
        rendered = self.templates.render(view, chosen, personalisation)
        if rendered.missing:
            names = ", ".join(rendered.missing)
            raise MissingPersonalisation(
                f"Personalisation lacks {names}: template {view.template.id} needs "
                f"{names} in 'personalisation'.",
                errors=[
                    {
                        "field": f"personalisation.{m}",
                        "message": "required by the template",
                        "code": "missing",
                    }
                    for m in rendered.missing
                ],
            )
        if channel == "sms":
            _, fragments = sms_fragments(rendered.body)
            if fragments > self.settings.sms_max_fragments:
                raise SmsTooLong(
                    f"The SMS would take {fragments} fragments; at most "
                    f"{self.settings.sms_max_fragments} are allowed. Shorten the values or "
                    "the template.",
                )
        return Prepared(
            recipient,
            chosen,
            rendered.subject,
            rendered.body,
            rendered.html,
            secret=view.template.secret,
        )

    def _row(
        self,
        tenant: str,
        view: TemplateView | None,
        prepared: Prepared,
        *,
        channel: str,
        reference: str | None,
        source: str,
        template_id: str | None,
        recipient_subject: str | None = None,
        batch_id: str | None = None,
        due: datetime | None = None,
    ) -> dict[str, Any]:
        now = utcnow()
        return {
            "id": new_id(),
            "tenant": tenant,
            "channel": channel,
            "status": "created",
            "recipient": prepared.recipient,
            "recipient_subject": recipient_subject,
            "template_id": template_id,
            "template_version": view.version if view else None,
            "language": prepared.language,
            "reference": reference,
            "source": source,
            "subject": prepared.subject,
            **content_columns(prepared.secret, prepared.body, prepared.html),
            "batch_id": batch_id,
            "attempts": 0,
            "next_attempt_at": due or now,
            "lease_until": None,
            "error": None,
            "created_at": now,
            "updated_at": now,
            "sent_at": None,
            "traceparent": current_traceparent(),
        }

    async def enqueue(
        self,
        session: AsyncSession,
        tenant: str,
        view: TemplateView | None,
        prepared: Prepared,
        *,
        channel: str,
        reference: str | None,
        source: str,
        template_id: str | None,
        recipient_subject: str | None = None,
    ) -> Notification:
        row = self._row(
            tenant,
            view,
            prepared,
            channel=channel,
            reference=reference,
            source=source,
            template_id=template_id,
            recipient_subject=recipient_subject,
        )
        return await self.insert(session, row)

    @staticmethod
    async def insert(session: AsyncSession, row: dict[str, Any]) -> Notification:
        """Store a new notification (one statement, no unit-of-work bookkeeping); the row as
        stored, not tracked by the session."""
        await session.execute(_NEW_NOTIFICATION, row)
        return Notification(**row)

    def builtin(self, key: str, to: str, values: dict[str, Any], language: str | None) -> Prepared:
        """Render one of the messages notify ships (identity mails, alerts)."""
        versions = BUILTIN[key]
        chosen = language if language in versions else ("fr" if "fr" in versions else "en")
        content = versions[chosen]
        rendered = render(
            subject=content["subject"],
            body=content["body"],
            html_body=None,
            values=values,
            channel="email",
        )
        if rendered.missing:
            raise MissingPersonalisation(f"missing {', '.join(rendered.missing)}")
        return Prepared(
            normalise_email(to),
            chosen,
            rendered.subject,
            rendered.body,
            rendered.html,
            secret=is_secret_event(key),
        )
