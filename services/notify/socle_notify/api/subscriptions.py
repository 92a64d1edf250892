"""Webhook subscriptions and their deliveries (scope ``notifications:admin``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from socle.idempotency import IdempotencyKey, idempotent_post
from socle.openapi import problem_responses
from socle_notify import use_cases
from socle_notify.api.deps import Admin, ContextDep, Cursor, Limit
from socle_notify.models import Subscription, WebhookDelivery
from socle_notify.schemas import (
    AttemptOut,
    DeliveryList,
    DeliveryOut,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionList,
    SubscriptionOut,
)
from socle_notify.webhooks import DeliveryView

router = APIRouter(tags=["webhooks"])


def subscription_out(s: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=s.id,
        callback_url=s.callback_url,
        event_types=s.event_types,
        description=s.description,
        created_at=s.created_at,
    )


def delivery_out(d: WebhookDelivery, view: DeliveryView | None = None) -> DeliveryOut:
    return DeliveryOut(
        id=d.id,
        subscription_id=d.subscription_id,
        event_id=d.event_id,
        event_type=d.event_type,
        status=d.status,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
        last_error=d.last_error,
        created_at=d.created_at,
        delivered_at=d.delivered_at,
        attempt_log=[
            AttemptOut(
                attempted_at=a.attempted_at,
                status_code=a.status_code,
                error=a.error,
                duration_ms=a.duration_ms,
            )
            for a in (view.attempts if view else [])
        ],
    )


@router.post(
    "/v1/subscriptions",
    status_code=201,
    response_model=SubscriptionCreated,
    responses=problem_responses(422),
    summary="Subscribe a callback URL to event types (deliveries are signed)",
)
async def create_subscription(
    body: SubscriptionCreate,
    principal: Admin,
    ctx: ContextDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def create(s: AsyncSession) -> SubscriptionCreated:
        sub = await ctx.webhooks.subscribe(s, principal.tenant, body)
        return SubscriptionCreated(**subscription_out(sub).model_dump(), secret=sub.secret)

    return await idempotent_post(
        ctx.sessions,
        principal,
        service="notify",
        action="subscriptions",
        key=idempotency_key,
        body=body,
        create=create,
    )


@router.get(
    "/v1/subscriptions",
    response_model=SubscriptionList,
    summary="List subscriptions",
)
async def list_subscriptions(principal: Admin, ctx: ContextDep) -> SubscriptionList:
    subs = await use_cases.subscriptions(ctx, principal.tenant)
    return SubscriptionList(items=[subscription_out(s) for s in subs if s.callback_url])


@router.get(
    "/v1/subscriptions/{subscription_id}",
    response_model=SubscriptionOut,
    responses=problem_responses(404),
    summary="Read a subscription",
)
async def get_subscription(
    subscription_id: str, principal: Admin, ctx: ContextDep
) -> SubscriptionOut:
    return subscription_out(await use_cases.subscription(ctx, principal.tenant, subscription_id))


@router.delete(
    "/v1/subscriptions/{subscription_id}",
    status_code=204,
    responses=problem_responses(404),
    summary="Stop a subscription (pending deliveries stop)",
)
async def delete_subscription(subscription_id: str, principal: Admin, ctx: ContextDep) -> Response:
    await use_cases.unsubscribe(ctx, principal.tenant, subscription_id)
    return Response(status_code=204)


@router.get(
    "/v1/webhook-deliveries",
    response_model=DeliveryList,
    summary="Webhook deliveries; `status=dead` is the dead-letter list",
)
async def list_deliveries(
    principal: Admin,
    ctx: ContextDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Literal["pending", "sending", "delivered", "dead"] | None = None,
    subscription_id: Annotated[str | None, Query(max_length=32)] = None,
) -> DeliveryList:
    rows, next_cursor = await use_cases.deliveries(
        ctx,
        principal.tenant,
        status=status,
        subscription_id=subscription_id,
        limit=limit,
        cursor=cursor,
    )
    return DeliveryList(items=[delivery_out(d) for d in rows], next_cursor=next_cursor)


@router.get(
    "/v1/webhook-deliveries/{delivery_id}",
    response_model=DeliveryOut,
    responses=problem_responses(404),
    summary="A delivery with every attempt",
)
async def get_delivery(delivery_id: str, principal: Admin, ctx: ContextDep) -> DeliveryOut:
    view = await use_cases.delivery(ctx, principal.tenant, delivery_id)
    return delivery_out(view.delivery, view)


@router.post(
    "/v1/webhook-deliveries/{delivery_id}/replay",
    response_model=DeliveryOut,
    responses=problem_responses(404, 409),
    summary="Send a dead delivery again (fresh attempts)",
)
async def replay_delivery(delivery_id: str, principal: Admin, ctx: ContextDep) -> DeliveryOut:
    view = await use_cases.replay_delivery(ctx, principal.tenant, delivery_id)
    return delivery_out(view.delivery, view)
