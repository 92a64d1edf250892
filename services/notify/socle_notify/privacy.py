"""Erasure of a person in notify (``user.deleted``).

The person's notifications (those sent to their subject) stay, so the commune's counts and
delivery statuses stay true, but what they said and where they went is erased: the address
becomes ``[erased]``, the subject, text and HTML (and any sealed copy) are replaced by a
notice, a delivery error (which may quote the address) is removed, and the subject that
linked them to the person becomes a pseudonym. Those not yet sent are cancelled. A
notification under legal hold keeps its address and contents (it is only cancelled if not
sent yet) and is marked (``erasure_requested_at``): the retention pass erases it once the hold
is lifted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.bus import ConsumerSpec
from socle.db import utcnow
from socle.legal_hold import kept_under_hold, not_held
from socle.privacy import (
    ErasureOutcome,
    ErasureRequest,
    ExportRequest,
    Kept,
    PersonData,
    as_json,
    erasure_consumer,
    new_pseudonym,
)
from socle.retention import in_batches
from socle_notify.messages import PENDING
from socle_notify.models import Notification, legal_holds

SERVICE = "notify"
CATEGORY = "notifications"
ERASED_ADDRESS = "[erased]"
ERASED_TEXT = "[Erased at the request of the person it was sent to.]"


def unheld() -> ColumnElement[bool]:
    return not_held(legal_holds, CATEGORY, Notification.tenant, Notification.id)


async def redact(
    session: AsyncSession, which: ColumnElement[bool], pseudonym: str, now: datetime
) -> int:
    """Erase the address and contents of the notifications ``which`` selects; how many."""
    erased = await session.execute(
        update(Notification)
        .where(which)
        .values(
            recipient=ERASED_ADDRESS,
            recipient_subject=pseudonym,
            subject=None,
            body=ERASED_TEXT,
            html=None,
            sealed_body=None,
            sealed_html=None,
            error=None,
            erasure_requested_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return int(erased.rowcount)  # type: ignore[attr-defined]


async def erase_person(session: AsyncSession, request: ErasureRequest) -> ErasureOutcome:
    mine = (Notification.tenant == request.tenant) & (
        Notification.recipient_subject == request.user_id
    )
    now = utcnow()
    cancelled = await session.execute(
        update(Notification)
        .where(mine, Notification.status.in_(PENDING))
        .values(status="cancelled", updated_at=now)
    )
    held = await session.execute(
        update(Notification)
        .where(mine, ~unheld())
        .values(erasure_requested_at=now)
        .execution_options(synchronize_session=False)
    )
    count = await redact(session, mine & unheld(), new_pseudonym(), now)
    unsent = int(cancelled.rowcount)  # type: ignore[attr-defined]
    on_hold = int(held.rowcount)  # type: ignore[attr-defined]
    kept = []
    if count:
        kept.append(
            Kept(
                category=CATEGORY,
                count=count,
                reason="audit",
                detail="Channel, template, status, attempts and times kept for the "
                "commune's counts; address and contents erased.",
            )
        )
    kept += kept_under_hold(
        CATEGORY,
        on_hold,
        "Notifications under legal hold are kept as they are; their address and contents are "
        "erased once the hold is lifted.",
    )
    return ErasureOutcome(
        erasure_id=request.erasure_id,
        service=SERVICE,
        erased={"notification_contents": count, "notifications_cancelled": unsent},
        kept=kept,
    )


async def erase_released(sessions: async_sessionmaker[AsyncSession], batch: int) -> int:
    """Erase the notifications of erased persons whose legal hold was lifted; how many."""

    async def one(session: AsyncSession) -> int:
        ids = list(
            (
                await session.execute(
                    select(Notification.id)
                    .where(Notification.erasure_requested_at.is_not(None), unheld())
                    .order_by(Notification.id)
                    .limit(batch)
                )
            ).scalars()
        )
        if ids:
            await redact(session, Notification.id.in_(ids), new_pseudonym(), utcnow())
        return len(ids)

    return await in_batches(sessions, one, batch)


def consumer(sessions: async_sessionmaker[AsyncSession]) -> ConsumerSpec:
    return erasure_consumer(SERVICE, sessions, erase_person)


NOTIFICATION_FIELDS = (
    "id",
    "channel",
    "status",
    "recipient",
    "language",
    "reference",
    "subject",
    "body",
    "created_at",
    "sent_at",
)


async def export_person(session: AsyncSession, request: ExportRequest) -> PersonData:
    """The notifications sent to the person (what was sent, where and when); a secret
    notification's text is not kept in clear and is left out."""
    rows = (
        await session.execute(
            select(Notification)
            .where(
                Notification.tenant == request.tenant,
                Notification.recipient_subject == request.user_id,
            )
            .order_by(Notification.created_at)
        )
    ).scalars()
    out = []
    for row in rows:
        item = as_json(row, NOTIFICATION_FIELDS)
        if row.secret:
            item["subject"] = item["body"] = None
        out.append(item)
    return {"notifications": out}
