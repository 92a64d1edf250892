"""Sending and reading notifications, and batches (scope ``notifications:send``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from socle.idempotency import IdempotencyKey, idempotent_post
from socle.openapi import problem_responses
from socle_notify import use_cases
from socle_notify.api.deps import ContextDep, Cursor, Limit, Reader, Sender
from socle_notify.batches import BatchView
from socle_notify.context import NotifyContext
from socle_notify.models import Notification
from socle_notify.schemas import (
    BatchCreate,
    BatchOut,
    Channel,
    NotificationList,
    NotificationOut,
    NotificationStatus,
    SendIn,
)

router = APIRouter(tags=["notifications"])


def notification_out(n: Notification) -> NotificationOut:
    pending = n.status in ("created", "temporary_failure")
    return NotificationOut(
        id=n.id,
        channel=n.channel,
        status=n.status,
        to=n.recipient,
        recipient_subject=n.recipient_subject,
        template_id=n.template_id,
        template_version=n.template_version,
        language=n.language,
        reference=n.reference,
        source=n.source,
        subject=n.subject,
        body=n.body,
        redacted=n.secret,
        batch_id=n.batch_id,
        attempts=n.attempts,
        next_attempt_at=n.next_attempt_at if pending else None,
        error=n.error,
        created_at=n.created_at,
        updated_at=n.updated_at,
        sent_at=n.sent_at,
    )


def batch_out(view: BatchView) -> BatchOut:
    b = view.batch
    return BatchOut(
        id=b.id,
        template_id=b.template_id,
        channel=b.channel,
        reference=b.reference,
        status=view.status,
        total=b.total,
        counts=view.counts,
        scheduled_for=b.scheduled_for,
        created_at=b.created_at,
        completed_at=b.completed_at,
    )


async def _send(
    channel: str,
    body: SendIn,
    principal: Sender,
    ctx: NotifyContext,
    key: str | None,
) -> JSONResponse:
    async def create(s: AsyncSession) -> NotificationOut:
        return notification_out(await ctx.notifications.send(s, principal.tenant, channel, body))

    answer = await idempotent_post(
        ctx.sessions,
        principal,
        service="notify",
        action=f"notifications:{channel}",
        key=key,
        body=body,
        create=create,
    )
    ctx.worker.wake()
    return answer


@router.post(
    "/v1/notifications/email",
    status_code=201,
    response_model=NotificationOut,
    responses=problem_responses(404, 422),
    summary="Send an email from a template",
)
async def send_email(
    body: SendIn,
    principal: Sender,
    ctx: ContextDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await _send("email", body, principal, ctx, idempotency_key)


@router.post(
    "/v1/notifications/sms",
    status_code=201,
    response_model=NotificationOut,
    responses=problem_responses(404, 422),
    summary="Send an SMS from a template",
)
async def send_sms(
    body: SendIn,
    principal: Sender,
    ctx: ContextDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await _send("sms", body, principal, ctx, idempotency_key)


@router.get(
    "/v1/notifications/{notification_id}",
    response_model=NotificationOut,
    responses=problem_responses(404),
    summary="Read a notification and its status",
)
async def get_notification(
    notification_id: Annotated[str, Path(max_length=32)],
    principal: Reader,
    ctx: ContextDep,
) -> NotificationOut:
    n = await use_cases.notification(ctx, principal.tenant, notification_id, principal.owner)
    return notification_out(n)


@router.get(
    "/v1/notifications",
    response_model=NotificationList,
    summary="List notifications, newest first, with filters",
)
async def list_notifications(
    principal: Reader,
    ctx: ContextDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: NotificationStatus | None = None,
    channel: Channel | None = None,
    reference: Annotated[str | None, Query(max_length=255)] = None,
    template_id: Annotated[str | None, Query(max_length=64)] = None,
    batch_id: Annotated[str | None, Query(max_length=32)] = None,
) -> NotificationList:
    filters: dict[str, str | None] = {
        "status": status,
        "channel": channel,
        "reference": reference,
        "template_id": template_id,
        "batch_id": batch_id,
    }
    rows, next_cursor = await use_cases.notifications_page(
        ctx, principal.tenant, limit=limit, cursor=cursor, filters=filters, owner=principal.owner
    )
    return NotificationList(items=[notification_out(n) for n in rows], next_cursor=next_cursor)


@router.post(
    "/v1/batches",
    status_code=201,
    response_model=BatchOut,
    responses=problem_responses(404, 422),
    summary="Send one template to up to 50,000 recipients, now or scheduled",
)
async def create_batch(
    body: BatchCreate,
    principal: Sender,
    ctx: ContextDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def create(s: AsyncSession) -> BatchOut:
        return batch_out(await ctx.notifications.create_batch(s, principal.tenant, body))

    answer = await idempotent_post(
        ctx.sessions,
        principal,
        service="notify",
        action="batches",
        key=idempotency_key,
        body=body,
        create=create,
    )
    ctx.worker.wake()
    return answer


@router.get(
    "/v1/batches/{batch_id}",
    response_model=BatchOut,
    responses=problem_responses(404),
    summary="A batch's status and its counts by notification status",
)
async def get_batch(batch_id: str, principal: Sender, ctx: ContextDep) -> BatchOut:
    return batch_out(await use_cases.batch(ctx, principal.tenant, batch_id))


@router.post(
    "/v1/batches/{batch_id}/cancel",
    response_model=BatchOut,
    responses=problem_responses(404, 409),
    summary="Cancel a batch before it starts",
)
async def cancel_batch(batch_id: str, principal: Sender, ctx: ContextDep) -> BatchOut:
    return batch_out(await use_cases.cancel_batch(ctx, principal.tenant, batch_id))
