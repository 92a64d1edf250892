"""Erasure of a person in notify (``user.deleted``).

The person's notifications (those sent to their subject) stay, so the commune's counts and
delivery statuses stay true, but what they said and where they went is erased: the address
becomes ``[erased]``, the subject, text and HTML (and any sealed copy) are replaced by a
notice, a delivery error (which may quote the address) is removed, and the subject that
linked them to the person becomes a pseudonym. Those not yet sent are cancelled."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.bus import ConsumerSpec
from socle.db import utcnow
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
from socle_notify.messages import PENDING
from socle_notify.models import Notification

SERVICE = "notify"
ERASED_ADDRESS = "[erased]"
ERASED_TEXT = "[Erased at the request of the person it was sent to.]"


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
    erased = await session.execute(
        update(Notification)
        .where(mine)
        .values(
            recipient=ERASED_ADDRESS,
            recipient_subject=new_pseudonym(),
            subject=None,
            body=ERASED_TEXT,
            html=None,
            sealed_body=None,
            sealed_html=None,
            error=None,
            updated_at=now,
        )
    )
    count = int(erased.rowcount)  # type: ignore[attr-defined]
    unsent = int(cancelled.rowcount)  # type: ignore[attr-defined]
    return ErasureOutcome(
        erasure_id=request.erasure_id,
        service=SERVICE,
        erased={"notification_contents": count, "notifications_cancelled": unsent},
        kept=[
            Kept(
                category="notifications",
                count=count,
                reason="audit",
                detail="Channel, template, status, attempts and times kept for the "
                "commune's counts; address and contents erased.",
            )
        ]
        if count
        else [],
    )


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
