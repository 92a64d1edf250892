"""Batches: one template sent to many recipients, checked whole, scheduled, cancelled before
it starts, and completed once its last message is settled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import utcnow
from socle.outbox import record_event
from socle.problems import Unprocessable
from socle_notify import events
from socle_notify.common import new_id
from socle_notify.errors import BatchNotFound, BatchStarted, InvalidBatch
from socle_notify.messages import PENDING, Messages
from socle_notify.models import Batch, Notification
from socle_notify.schemas import BatchCreate


@dataclass
class BatchView:
    batch: Batch
    status: str
    counts: dict[str, int]


class Batches(Messages):
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
            except Unprocessable as exc:
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
