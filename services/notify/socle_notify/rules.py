"""Rules from events: a tenant maps event types to templates, and notify sends them when the
events happen. Also the built-in identity mails and the fan-out to webhook subscriptions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from socle.account_mails import ACCOUNT_MAIL_EVENTS, AccountMailGone
from socle.db import utcnow
from socle.events import CloudEvent
from socle.problems import NotFound, Unprocessable
from socle_notify.common import new_id
from socle_notify.errors import InvalidRule, RuleNotFound
from socle_notify.messages import LANGUAGES
from socle_notify.models import Rule
from socle_notify.notifications import Notifications
from socle_notify.schemas import RuleCreate
from socle_notify.sealing import is_secret_event
from socle_notify.settings import NotifySettings
from socle_notify.templates import Templates
from socle_notify.webhooks import Webhooks

log = structlog.get_logger("socle_notify.rules")

SOURCE = "/socle/notify"
BUILTIN_EVENTS = {
    "user.registered": "email",
    "user.password_reset_requested": "email",
    "person.export.available": "email",
    "procedure.request.submitted": "email",
    "procedure.request.information_requested": "email",
    "procedure.request.approved": "email",
    "procedure.request.rejected": "email",
    "procedure.mandate.requested": "email",
}
IDENTITY_EVENTS = frozenset(
    {"user.registered", "user.password_reset_requested", "person.export.available"}
)
AccountMailFn = Callable[[CloudEvent], Awaitable[dict[str, str]]]


def lookup(event: CloudEvent, path: str) -> Any:
    """``data.payer.email`` → the value in the event (None when absent)."""
    current: Any = event.model_dump(mode="json")
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


def personalisation(event: CloudEvent) -> dict[str, Any]:
    """What a rule's template can use: every field of ``data`` plus a few conveniences."""
    values: dict[str, Any] = {}
    for key, value in event.data.items():
        values[key] = value
        if isinstance(value, dict):
            for sub, inner in value.items():
                values[f"{key}.{sub}"] = inner
    values.update(event_id=event.id, event_type=event.type, tenant=event.tenant)
    values.setdefault("commune", event.tenant)  # the commune's name when the event has it
    amount, currency = event.data.get("amount"), event.data.get("currency")
    if isinstance(amount, int) and isinstance(currency, str):
        values.setdefault("amount_display", f"{currency} {amount // 100}.{amount % 100:02d}")
    return values


def subject_of(event: CloudEvent) -> str | None:
    """The person a message from this event is for: ``data.user_id`` when the event has it."""
    value = event.data.get("user_id")
    if isinstance(value, str) and 0 < len(value) <= 255:
        return value
    return None


def language_of(value: Any) -> str | None:
    if isinstance(value, str) and value[:2].lower() in LANGUAGES:
        return value[:2].lower()
    return None


class Rules:
    def __init__(
        self,
        settings: NotifySettings,
        templates: Templates,
        notifications: Notifications,
        webhooks: Webhooks,
        account_mail: AccountMailFn,
    ) -> None:
        self.settings = settings
        self.templates = templates
        self.notifications = notifications
        self.webhooks = webhooks
        self.account_mail = account_mail
        """Asks identity for an account mail's address and link (``socle.account_mails``)."""

    async def create(self, session: AsyncSession, tenant: str, body: RuleCreate) -> Rule:
        await self.templates.get_template(session, tenant, body.template_id)
        for name in ("recipient_field", "language_field"):
            value = getattr(body, name)
            if not value.startswith("data.") or len(value) < 6:
                raise InvalidRule(
                    f"{name} must name a field of the event data, like data.email.",
                    errors=[{"field": name, "message": "must start with data.", "code": "invalid"}],
                )
        rule = Rule(
            id=new_id(),
            tenant=tenant,
            event_type=body.event_type,
            template_id=body.template_id,
            recipient_field=body.recipient_field,
            language_field=body.language_field,
            created_at=utcnow(),
        )
        session.add(rule)
        await session.flush()
        return rule

    async def all(self, session: AsyncSession, tenant: str) -> list[Rule]:
        query = select(Rule).where(Rule.tenant == tenant).order_by(Rule.id)
        return list((await session.execute(query)).scalars())

    async def delete(self, session: AsyncSession, tenant: str, rule_id: str) -> None:
        result = await session.execute(
            delete(Rule).where(Rule.id == rule_id, Rule.tenant == tenant)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise RuleNotFound(f"No rule {rule_id} in this tenant.")

    async def on_event(self, session: AsyncSession, event: CloudEvent) -> int:
        """The consumer's effect, inside the inbox transaction: mails, SMS and webhooks;
        returns how many notifications and deliveries it queued."""
        created = 0
        if event.source != SOURCE:  # never react to our own events with messages
            rules = list(
                (
                    await session.execute(
                        select(Rule).where(
                            Rule.tenant == event.tenant, Rule.event_type == event.type
                        )
                    )
                ).scalars()
            )
            builtin = not rules and self._builtin_enabled(event.type)
            mail = await self._with_account_mail(event) if rules or builtin else None
            if mail is not None:
                for rule in rules:
                    await self._apply(session, rule, mail)
                    created += 1
                if builtin:
                    await self._builtin(session, mail)
                    created += 1
        queued = await self.webhooks.fan_out(session, event)  # as published: no address
        if created or queued:
            log.info(
                "event_handled",
                event_type=event.type,
                tenant=event.tenant,
                notifications=created,
                webhook_deliveries=queued,
            )
        return created + queued

    async def _with_account_mail(self, event: CloudEvent) -> CloudEvent | None:
        """The event to make messages from: a secret mail's event with the address and the
        link its producer gives (kept in memory only; the notification seals the text), None
        when the producer has nothing to mail. No answer raises: the event comes again."""
        if event.type not in ACCOUNT_MAIL_EVENTS:
            return event
        try:
            extra = await self.account_mail(event)
        except AccountMailGone:
            log.info("account_mail_gone", event_type=event.type, event_id=event.id)
            return None
        return event.model_copy(update={"data": {**event.data, **extra}})

    def _builtin_enabled(self, event_type: str) -> bool:
        if event_type not in BUILTIN_EVENTS:
            return False
        if event_type in IDENTITY_EVENTS:
            return self.settings.builtin_identity_mails
        return self.settings.builtin_procedure_mails

    async def _apply(self, session: AsyncSession, rule: Rule, event: CloudEvent) -> None:
        reference = f"event:{event.id}"
        try:
            view = await self.templates.view(session, event.tenant, rule.template_id)
            to = lookup(event, rule.recipient_field)
            if not isinstance(to, str) or not to:
                raise InvalidRule(f"the event has no {rule.recipient_field}")
            language = language_of(lookup(event, rule.language_field))
            prepared = self.notifications.prepare(view, to, personalisation(event), language)
            if is_secret_event(event.type):  # whatever the tenant's template says
                prepared = replace(prepared, secret=True)
        except Unprocessable as exc:
            log.warning(
                "rule_not_applicable", rule_id=rule.id, event_type=event.type, error=exc.code
            )
            await self.notifications.record_failure(
                session,
                event.tenant,
                channel="email",
                template_id=rule.template_id,
                reference=reference,
                source="rule",
                error=f"{exc.code}: {exc.detail}",
            )
            return
        except NotFound as exc:
            await self.notifications.record_failure(
                session,
                event.tenant,
                channel="email",
                template_id=rule.template_id,
                reference=reference,
                source="rule",
                error=f"{exc.code}: {exc.detail}",
            )
            return
        await self.notifications.enqueue(
            session,
            event.tenant,
            view,
            prepared,
            channel=view.template.channel,
            reference=reference,
            source="rule",
            template_id=view.template.id,
            recipient_subject=subject_of(event),
        )

    async def _builtin(self, session: AsyncSession, event: CloudEvent) -> None:
        reference = f"event:{event.id}"
        template_id = f"builtin:{event.type}"
        try:
            to = event.data.get("email")
            if not isinstance(to, str):
                raise InvalidRule("the event has no data.email")
            prepared = self.notifications.builtin(
                event.type, to, personalisation(event), language_of(event.data.get("locale"))
            )
        except Unprocessable as exc:
            await self.notifications.record_failure(
                session,
                event.tenant,
                channel="email",
                template_id=template_id,
                reference=reference,
                source="rule",
                error=f"{exc.code}: {exc.detail}",
            )
            return
        await self.notifications.enqueue(
            session,
            event.tenant,
            None,
            prepared,
            channel="email",
            reference=reference,
            source="rule",
            template_id=template_id,
            recipient_subject=subject_of(event),
        )
