"""Notifications: accept (render and validate), list, batch, and settle the worker's attempts.

Accepting renders the message at once, so a caller hears about an unknown template, a missing
personalisation value or a bad address in the answer, not later. The worker then claims due
notifications, sends them, and settles each attempt here, in one transaction per step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import utcnow
from socle.outbox import record_event
from socle_notify import events
from socle_notify.channels import Outcome
from socle_notify.common import new_id, normalise_email, normalise_phone
from socle_notify.errors import (
    BatchNotFound,
    BatchStarted,
    InvalidBatch,
    MissingPersonalisation,
    NotificationNotFound,
    SmsTooLong,
    UnprocessableError,
    WrongChannel,
)
from socle_notify.models import Batch, Notification
from socle_notify.render import BUILTIN, render, sms_fragments
from socle_notify.schemas import BatchCreate, SendIn
from socle_notify.sealing import content_columns, is_secret_event
from socle_notify.settings import NotifySettings
from socle_notify.templates import Templates, TemplateView

log = structlog.get_logger("socle_notify.notifications")

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


@dataclass(frozen=True)
class Claim:
    id: str
    lease_until: datetime


@dataclass
class BatchView:
    batch: Batch
    status: str
    counts: dict[str, int]


class Notifications:
    def __init__(self, settings: NotifySettings, templates: Templates) -> None:
        self.settings = settings
        self.templates = templates
        self.on_change: Callable[[], None] = lambda: None

    # -- accepting ---------------------------------------------------------------------

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
        }

    async def send(
        self, session: AsyncSession, tenant: str, channel: str, body: SendIn
    ) -> Notification:
        view = await self.templates.view(session, tenant, body.template_id)
        if view.template.channel != channel:
            raise WrongChannel(
                f"Template {body.template_id} is an {view.template.channel} template; send it "
                f"with POST /v1/notifications/{view.template.channel}."
            )
        prepared = self.prepare(view, body.to, body.personalisation, body.language)
        row = self._row(
            tenant,
            view,
            prepared,
            channel=channel,
            reference=body.reference,
            source="api",
            template_id=view.template.id,
            recipient_subject=body.recipient_subject,
        )
        notification = Notification(**row)
        session.add(notification)
        await session.flush()
        return notification

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
        notification = Notification(**row)
        session.add(notification)
        await session.flush()
        return notification

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

    async def record_failure(
        self,
        session: AsyncSession,
        tenant: str,
        *,
        channel: str,
        template_id: str | None,
        reference: str | None,
        source: str,
        error: str,
        language: str = "fr",
    ) -> Notification:
        """A message that could not even be prepared (from an event): kept, reported, alerted."""
        now = utcnow()
        notification = Notification(
            id=new_id(),
            tenant=tenant,
            channel=channel,
            status="permanent_failure",
            recipient="",
            template_id=template_id,
            template_version=None,
            language=language,
            reference=reference,
            source=source,
            subject=None,
            body="",
            html=None,
            batch_id=None,
            attempts=0,
            next_attempt_at=now,
            lease_until=None,
            error=error[:500],
            created_at=now,
            updated_at=now,
            sent_at=None,
        )
        session.add(notification)
        await session.flush()
        await record_event(
            session,
            events.notification_failed(notification),
            aggregate=f"notification:{notification.id}",
        )
        await self.alert(
            session,
            tenant,
            kind="notification",
            item_id=notification.id,
            reference=reference,
            attempts=0,
            error=error,
            path=f"/v1/notifications/{notification.id}",
        )
        return notification

    async def alert(
        self,
        session: AsyncSession,
        tenant: str,
        *,
        kind: str,
        item_id: str,
        reference: str | None,
        attempts: int,
        error: str | None,
        path: str,
    ) -> None:
        """Mail the tenant's operations address about a final failure (if one is set)."""
        address = self.settings.operations_address(tenant)
        if not address:
            log.warning("final_failure_without_operations_address", tenant=tenant, kind=kind)
            return
        values = {
            "kind": kind,
            "tenant": tenant,
            "attempts": attempts,
            "id": item_id,
            "reference": reference or "-",
            "error": error or "-",
            "path": path,
        }
        try:
            prepared = self.builtin("alert.final_failure", address, values, "en")
        except UnprocessableError:
            log.error("operations_address_invalid", tenant=tenant)
            return
        await self.enqueue(
            session,
            tenant,
            None,
            prepared,
            channel="email",
            reference=item_id,
            source="alert",
            template_id="builtin:alert.final_failure",
        )

    # -- reading -----------------------------------------------------------------------

    async def get(
        self,
        session: AsyncSession,
        tenant: str,
        notification_id: str,
        *,
        owner: str | None = None,
    ) -> Notification:
        """The notification; ``owner`` (a person's subject) reads only its own: another
        answers 404, exactly as one that does not exist."""
        query = select(Notification).where(
            Notification.id == notification_id, Notification.tenant == tenant
        )
        if owner is not None:
            query = query.where(Notification.recipient_subject == owner)
        notification = (await session.execute(query)).scalar_one_or_none()
        if notification is None:
            raise NotificationNotFound(f"No notification {notification_id} in this tenant.")
        return notification

    async def page(
        self,
        session: AsyncSession,
        tenant: str,
        *,
        limit: int,
        cursor: str | None,
        filters: dict[str, str | None],
        owner: str | None = None,
    ) -> tuple[list[Notification], str | None]:
        query = select(Notification).where(Notification.tenant == tenant)
        if owner is not None:
            query = query.where(Notification.recipient_subject == owner)
        columns = {
            "status": Notification.status,
            "channel": Notification.channel,
            "reference": Notification.reference,
            "template_id": Notification.template_id,
            "batch_id": Notification.batch_id,
        }
        for name, value in filters.items():
            if value is not None:
                query = query.where(columns[name] == value)
        if cursor:
            query = query.where(Notification.id < cursor)
        rows = list(
            (
                await session.execute(query.order_by(Notification.id.desc()).limit(limit + 1))
            ).scalars()
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (rows[-1].id if more and rows else None)

    # -- batches -----------------------------------------------------------------------

    async def create_batch(
        self, session: AsyncSession, tenant: str, body: BatchCreate
    ) -> BatchView:
        s = self.settings
        if len(body.recipients) > s.batch_max_recipients:
            raise InvalidBatch(
                f"A batch has at most {s.batch_max_recipients} recipients; split this one "
                f"({len(body.recipients)})."
            )
        now = utcnow()
        due = now
        if body.scheduled_for is not None:
            if body.scheduled_for.tzinfo is None:
                raise InvalidBatch("scheduled_for needs a time zone, e.g. 2026-11-24T08:00:00Z.")
            if body.scheduled_for > now + timedelta(hours=s.batch_max_schedule_hours):
                raise InvalidBatch(
                    f"scheduled_for is more than {s.batch_max_schedule_hours:g} hours ahead."
                )
            due = max(now, body.scheduled_for)
        view = await self.templates.view(session, tenant, body.template_id)
        channel = view.template.channel
        batch = Batch(
            id=new_id(),
            tenant=tenant,
            template_id=view.template.id,
            channel=channel,
            reference=body.reference,
            status="scheduled",
            total=len(body.recipients),
            scheduled_for=due,
            created_at=now,
            completed_at=None,
        )
        rows: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for index, recipient in enumerate(body.recipients):
            try:
                prepared = self.prepare(
                    view,
                    recipient.to,
                    recipient.personalisation,
                    recipient.language or body.language,
                )
            except UnprocessableError as exc:
                if len(errors) < 100:
                    errors.append(
                        {"field": f"recipients.{index}", "message": exc.detail, "code": exc.code}
                    )
                continue
            rows.append(
                self._row(
                    tenant,
                    view,
                    prepared,
                    channel=channel,
                    reference=body.reference,
                    source="batch",
                    template_id=view.template.id,
                    recipient_subject=recipient.recipient_subject,
                    batch_id=batch.id,
                    due=due,
                )
            )
        if errors:
            raise InvalidBatch(
                f"{len(body.recipients) - len(rows)} recipients are not valid; nothing was "
                "sent. Fix them and send the batch again.",
                errors=errors,
            )
        session.add(batch)
        await session.flush()
        for start in range(0, len(rows), 1000):
            await session.execute(insert(Notification), rows[start : start + 1000])
        return BatchView(batch, self._batch_status(batch, now), {"created": len(rows)})

    def _batch_status(self, batch: Batch, now: datetime) -> str:
        if batch.status in ("completed", "cancelled"):
            return batch.status
        return "scheduled" if now < batch.scheduled_for else "in_progress"

    async def _get_batch(
        self, session: AsyncSession, tenant: str, batch_id: str, lock: bool = False
    ) -> Batch:
        query = select(Batch).where(Batch.id == batch_id, Batch.tenant == tenant)
        if lock:
            query = query.with_for_update()
        batch = (await session.execute(query)).scalar_one_or_none()
        if batch is None:
            raise BatchNotFound(f"No batch {batch_id} in this tenant.")
        return batch

    async def _counts(self, session: AsyncSession, batch_id: str) -> dict[str, int]:
        rows = await session.execute(
            select(Notification.status, func.count())
            .where(Notification.batch_id == batch_id)
            .group_by(Notification.status)
        )
        return {status: int(count) for status, count in rows.all()}

    async def batch(self, session: AsyncSession, tenant: str, batch_id: str) -> BatchView:
        batch = await self._get_batch(session, tenant, batch_id)
        return BatchView(
            batch, self._batch_status(batch, utcnow()), await self._counts(session, batch.id)
        )

    async def cancel_batch(self, session: AsyncSession, tenant: str, batch_id: str) -> BatchView:
        batch = await self._get_batch(session, tenant, batch_id, lock=True)
        if batch.status == "cancelled":
            return BatchView(batch, "cancelled", await self._counts(session, batch.id))
        started = (
            await session.execute(
                select(func.count())
                .select_from(Notification)
                .where(
                    Notification.batch_id == batch.id,
                    or_(Notification.status != "created", Notification.attempts > 0),
                )
            )
        ).scalar_one()
        if batch.status == "completed" or started:
            raise BatchStarted(
                f"Batch {batch_id} has started sending ({started} messages); it can only be "
                "cancelled before its first message goes out."
            )
        now = utcnow()
        await session.execute(
            update(Notification)
            .where(
                Notification.batch_id == batch.id,
                Notification.status == "created",
                Notification.attempts == 0,
            )
            .values(
                status="cancelled",
                updated_at=now,
                error="batch-cancelled",
                sealed_body=None,
                sealed_html=None,
            )
        )
        batch.status = "cancelled"
        batch.completed_at = now
        await session.flush()
        return BatchView(batch, "cancelled", await self._counts(session, batch.id))

    async def _maybe_complete_batch(self, session: AsyncSession, batch_id: str) -> None:
        batch = (
            await session.execute(select(Batch).where(Batch.id == batch_id).with_for_update())
        ).scalar_one()
        if batch.status in ("completed", "cancelled"):
            return
        counts = await self._counts(session, batch_id)
        if any(counts.get(s, 0) for s in PENDING):
            return
        batch.status = "completed"
        batch.completed_at = utcnow()
        await record_event(
            session, events.batch_completed(batch, counts), aggregate=f"batch:{batch.id}"
        )

    # -- the worker's side -------------------------------------------------------------

    async def claim(self, session: AsyncSession, limit: int) -> list[Claim]:
        """Take due notifications (and expired leases) for this worker; commit right after."""
        now = utcnow()
        lease_until = now + timedelta(seconds=self.settings.lease_seconds)
        query = (
            select(Notification.id)
            .where(_due(now))
            .order_by(Notification.next_attempt_at)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list((await session.execute(query)).scalars())
        if not ids:
            return []
        await session.execute(
            update(Notification)
            .where(Notification.id.in_(ids))
            .values(
                status="sending",
                lease_until=lease_until,
                attempts=Notification.attempts + 1,
                updated_at=now,
            )
        )
        return [Claim(i, lease_until) for i in ids]

    async def backlog(self, session: AsyncSession) -> int:
        """How many notifications are due now (a worker would claim them)."""
        count = await session.scalar(
            select(func.count()).select_from(Notification).where(_due(utcnow()))
        )
        return int(count or 0)

    async def load(self, session: AsyncSession, claim: Claim) -> Notification | None:
        return (
            await session.execute(select(Notification).where(Notification.id == claim.id))
        ).scalar_one_or_none()

    async def _owned(self, session: AsyncSession, claim: Claim) -> Notification | None:
        notification = (
            await session.execute(
                select(Notification).where(Notification.id == claim.id).with_for_update()
            )
        ).scalar_one_or_none()
        if (
            notification is None
            or notification.status != "sending"
            or notification.lease_until != claim.lease_until
        ):
            return None
        return notification

    async def renew(self, session: AsyncSession, claim: Claim) -> Claim | None:
        """Extend a lease this worker still holds (a send in progress); the new claim, or
        None when the lease was lost."""
        lease_until = utcnow() + timedelta(seconds=self.settings.lease_seconds)
        result = await session.execute(
            update(Notification)
            .where(
                Notification.id == claim.id,
                Notification.status == "sending",
                Notification.lease_until == claim.lease_until,
            )
            .values(lease_until=lease_until)
        )
        return Claim(claim.id, lease_until) if result.rowcount == 1 else None  # type: ignore[attr-defined]

    async def postpone(self, session: AsyncSession, claim: Claim, seconds: float) -> None:
        """Give a claimed notification back (rate limit reached); it keeps its attempts."""
        notification = await self._owned(session, claim)
        if notification is None:
            return
        notification.attempts -= 1
        notification.status = "created" if notification.attempts == 0 else "temporary_failure"
        notification.lease_until = None
        notification.next_attempt_at = utcnow() + timedelta(seconds=seconds)

    def backoff(self, attempts: int) -> float:
        s = self.settings
        return float(min(s.retry_base_seconds * 2 ** max(attempts - 1, 0), s.retry_max_seconds))

    async def settle(self, session: AsyncSession, claim: Claim, outcome: Outcome) -> str | None:
        """Record how an attempt went; returns the new status (None when the lease was lost)."""
        notification = await self._owned(session, claim)
        if notification is None:
            log.warning("notification_lease_lost", notification_id=claim.id)
            return None
        now = utcnow()
        notification.lease_until = None
        notification.updated_at = now
        if outcome.delivered:
            notification.status = "delivered"
            notification.sent_at = now
            notification.error = None
            await record_event(
                session,
                events.notification_delivered(notification),
                aggregate=f"notification:{notification.id}",
            )
        elif (
            outcome.status == "temporary_failure"
            and notification.attempts < self.settings.max_attempts
        ):
            notification.status = "temporary_failure"
            notification.error = (outcome.error or "")[:500]
            notification.next_attempt_at = now + timedelta(
                seconds=self.backoff(notification.attempts)
            )
        else:
            notification.status = "permanent_failure"
            notification.error = (outcome.error or "")[:500]
            await record_event(
                session,
                events.notification_failed(notification),
                aggregate=f"notification:{notification.id}",
            )
            if notification.source != "alert":
                await self.alert(
                    session,
                    notification.tenant,
                    kind=f"{notification.channel} notification",
                    item_id=notification.id,
                    reference=notification.reference,
                    attempts=notification.attempts,
                    error=notification.error,
                    path=f"/v1/notifications/{notification.id}",
                )
        if notification.status in FINAL:  # a sealed text has nothing left to do
            notification.sealed_body = notification.sealed_html = None
        await session.flush()
        if notification.batch_id and notification.status in FINAL:
            await self._maybe_complete_batch(session, notification.batch_id)
        return notification.status


def _due(now: datetime) -> ColumnElement[bool]:
    """Notifications to send now: due ones, and those whose sender's lease expired."""
    return or_(
        and_(
            Notification.status.in_(("created", "temporary_failure")),
            Notification.next_attempt_at <= now,
        ),
        and_(Notification.status == "sending", Notification.lease_until < now),
    )
