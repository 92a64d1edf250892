"""``python -m socle_notify tenant-sender|tenant-contacts|webhooks-failed|webhooks-redeliver``:
what an
operator does without the API (JSON on stdout)."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from socle.cli import Command, fail
from socle.config import ServiceSettings
from socle.db import create_engine, create_sessionmaker
from socle.problems import DomainError
from socle_notify.contacts import Contacts
from socle_notify.models import WebhookDelivery
from socle_notify.notifications import Notifications
from socle_notify.senders import Senders
from socle_notify.settings import NotifySettings
from socle_notify.templates import Templates
from socle_notify.webhooks import Webhooks


def _run(settings: ServiceSettings, work: Callable[[AsyncSession], Awaitable[Any]]) -> int:
    async def go() -> Any:
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    try:
        result = asyncio.run(go())
    except DomainError as exc:
        return fail(f"error: {exc.detail}")
    print(json.dumps(result, indent=2, default=str))
    return 0


def _sender_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("tenant")
    p.add_argument("--from-name")
    p.add_argument("--from-address")
    p.add_argument("--reply-to")
    p.add_argument("--reset", action="store_true", help="back to SOCLE_MAIL_FROM")


def _sender(settings: ServiceSettings, args: argparse.Namespace) -> int:
    """Show (no option) or set a tenant's sender."""
    assert isinstance(settings, NotifySettings)
    senders = Senders(settings)

    async def work(session: AsyncSession) -> dict[str, Any]:
        if args.reset:
            return await senders.configure(session, args.tenant, None)
        if args.from_name or args.from_address:
            if not (args.from_name and args.from_address):
                raise DomainError("give both --from-name and --from-address")
            return await senders.configure(
                session,
                args.tenant,
                {
                    "from_name": args.from_name,
                    "from_address": args.from_address,
                    "reply_to": args.reply_to,
                },
            )
        return await senders.view(session, args.tenant)

    return _run(settings, work)


def _contacts_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("tenant")
    p.add_argument(
        "--email", action="append", dest="emails", help="an operations address (repeatable)"
    )
    p.add_argument("--reset", action="store_true", help="back to the installation's contacts")


def _contacts(settings: ServiceSettings, args: argparse.Namespace) -> int:
    """Show (no option) or set where a tenant's alerts go."""
    assert isinstance(settings, NotifySettings)
    contacts = Contacts(settings)

    async def work(session: AsyncSession) -> dict[str, Any]:
        if args.reset:
            return await contacts.configure(session, args.tenant, None)
        if args.emails:
            return await contacts.configure(session, args.tenant, args.emails)
        return await contacts.view(session, args.tenant)

    return _run(settings, work)


def _delivery(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "tenant": d.tenant,
        "subscription_id": d.subscription_id,
        "event_type": d.event_type,
        "status": d.status,
        "attempts": d.attempts,
        "last_error": d.last_error,
        "created_at": d.created_at,
    }


def _failed_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tenant", help="only this tenant's")
    p.add_argument("--limit", type=int, default=100)


def _failed(settings: ServiceSettings, args: argparse.Namespace) -> int:
    """Deliveries whose retries are exhausted (``dead``), newest first."""

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        query = select(WebhookDelivery).where(WebhookDelivery.status == "dead")
        if args.tenant:
            query = query.where(WebhookDelivery.tenant == args.tenant)
        rows = await session.execute(query.order_by(WebhookDelivery.id.desc()).limit(args.limit))
        return [_delivery(d) for d in rows.scalars()]

    return _run(settings, work)


def _redeliver_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tenant", required=True)
    p.add_argument("delivery_ids", nargs="+", metavar="DELIVERY_ID")


def _redeliver(settings: ServiceSettings, args: argparse.Namespace) -> int:
    """Deliver dead deliveries again (a running notify worker sends them)."""
    assert isinstance(settings, NotifySettings)
    webhooks = Webhooks(settings, Notifications(settings, Templates(settings.sms_max_fragments)))

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        return [
            _delivery((await webhooks.replay(session, args.tenant, delivery_id)).delivery)
            for delivery_id in args.delivery_ids
        ]

    return _run(settings, work)


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Command]] = {
    "tenant-sender": ("show or set a tenant's mail sender", _sender_args, _sender),
    "tenant-contacts": (
        "show or set where a tenant's alerts go",
        _contacts_args,
        _contacts,
    ),
    "webhooks-failed": ("list the dead webhook deliveries", _failed_args, _failed),
    "webhooks-redeliver": ("deliver dead webhook deliveries again", _redeliver_args, _redeliver),
}
