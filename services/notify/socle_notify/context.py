"""What the notify routers and use cases need at run time, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle_notify.contacts import Contacts
from socle_notify.notifications import Notifications
from socle_notify.rules import Rules
from socle_notify.senders import Senders
from socle_notify.templates import Templates
from socle_notify.webhooks import Webhooks
from socle_notify.worker import Worker


@dataclass
class NotifyContext:
    sessions: async_sessionmaker[AsyncSession]
    templates: Templates
    notifications: Notifications
    webhooks: Webhooks
    rules: Rules
    worker: Worker
    senders: Senders
    contacts: Contacts
