"""Use cases of the notify API that read or change rows outside an idempotent create: each
opens its own transaction; the router parses, authorises, calls one and maps the result."""

from __future__ import annotations

from socle_notify.batches import BatchView
from socle_notify.context import NotifyContext
from socle_notify.models import Notification, Rule, Subscription, WebhookDelivery
from socle_notify.schemas import TemplateUpdate
from socle_notify.templates import TemplateView
from socle_notify.webhooks import DeliveryView

Page = tuple[list[TemplateView], str | None]

# -- templates ---------------------------------------------------------------------------


async def templates_page(ctx: NotifyContext, tenant: str, limit: int, cursor: str | None) -> Page:
    async with ctx.sessions() as session, session.begin():
        return await ctx.templates.page(session, tenant, limit, cursor)


async def template(
    ctx: NotifyContext, tenant: str, template_id: str, version: int | None = None
) -> TemplateView:
    async with ctx.sessions() as session, session.begin():
        return await ctx.templates.view(session, tenant, template_id, version)


async def update_template(
    ctx: NotifyContext, tenant: str, template_id: str, body: TemplateUpdate
) -> TemplateView:
    async with ctx.sessions() as session, session.begin():
        return await ctx.templates.update(session, tenant, template_id, body)


# -- rules -------------------------------------------------------------------------------


async def rules(ctx: NotifyContext, tenant: str) -> list[Rule]:
    async with ctx.sessions() as session, session.begin():
        return await ctx.rules.all(session, tenant)


async def delete_rule(ctx: NotifyContext, tenant: str, rule_id: str) -> None:
    async with ctx.sessions() as session, session.begin():
        await ctx.rules.delete(session, tenant, rule_id)


# -- notifications and batches -----------------------------------------------------------


async def notification(
    ctx: NotifyContext, tenant: str, notification_id: str, owner: str | None
) -> Notification:
    async with ctx.sessions() as session, session.begin():
        return await ctx.notifications.get(session, tenant, notification_id, owner=owner)


async def notifications_page(
    ctx: NotifyContext,
    tenant: str,
    *,
    limit: int,
    cursor: str | None,
    filters: dict[str, str | None],
    owner: str | None,
) -> tuple[list[Notification], str | None]:
    async with ctx.sessions() as session, session.begin():
        return await ctx.notifications.page(
            session, tenant, limit=limit, cursor=cursor, filters=filters, owner=owner
        )


async def batch(ctx: NotifyContext, tenant: str, batch_id: str) -> BatchView:
    async with ctx.sessions() as session, session.begin():
        return await ctx.notifications.batch(session, tenant, batch_id)


async def cancel_batch(ctx: NotifyContext, tenant: str, batch_id: str) -> BatchView:
    async with ctx.sessions() as session, session.begin():
        return await ctx.notifications.cancel_batch(session, tenant, batch_id)


# -- webhook subscriptions and deliveries ------------------------------------------------


async def subscriptions(ctx: NotifyContext, tenant: str) -> list[Subscription]:
    async with ctx.sessions() as session, session.begin():
        return await ctx.webhooks.subscriptions(session, tenant)


async def subscription(ctx: NotifyContext, tenant: str, subscription_id: str) -> Subscription:
    async with ctx.sessions() as session, session.begin():
        return await ctx.webhooks.subscription(session, tenant, subscription_id)


async def unsubscribe(ctx: NotifyContext, tenant: str, subscription_id: str) -> None:
    async with ctx.sessions() as session, session.begin():
        await ctx.webhooks.unsubscribe(session, tenant, subscription_id)


async def deliveries(
    ctx: NotifyContext,
    tenant: str,
    *,
    status: str | None,
    subscription_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[WebhookDelivery], str | None]:
    async with ctx.sessions() as session, session.begin():
        return await ctx.webhooks.deliveries(
            session,
            tenant,
            status=status,
            subscription_id=subscription_id,
            limit=limit,
            cursor=cursor,
        )


async def delivery(ctx: NotifyContext, tenant: str, delivery_id: str) -> DeliveryView:
    async with ctx.sessions() as session, session.begin():
        return await ctx.webhooks.delivery(session, tenant, delivery_id)


async def replay_delivery(ctx: NotifyContext, tenant: str, delivery_id: str) -> DeliveryView:
    """Send a dead delivery again: fresh attempts, the worker woken."""
    async with ctx.sessions() as session, session.begin():
        view = await ctx.webhooks.replay(session, tenant, delivery_id)
    ctx.worker.wake()
    return view
