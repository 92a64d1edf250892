"""Application factory of the notify service."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from fastapi import FastAPI

from socle import account_mails
from socle.bus import ConsumerSpec
from socle.db import read_only
from socle.events import CloudEvent
from socle.export_parts import export_consumers
from socle.inbox import exactly_once
from socle.locks import exclusive_pass
from socle.periodic import Periodic
from socle.service import Runtime, create_service_app
from socle_notify import privacy, retention
from socle_notify.api import contacts, notifications, rules, sender, subscriptions, templates
from socle_notify.channels import EmailSender, sms_provider
from socle_notify.contacts import Contacts
from socle_notify.context import NotifyContext
from socle_notify.notifications import Notifications
from socle_notify.rules import SOURCE as rules_source
from socle_notify.rules import Rules
from socle_notify.settings import NotifySettings
from socle_notify.templates import Templates
from socle_notify.webhooks import Webhooks
from socle_notify.worker import Worker

#: Routes callable without an access token (besides health, metrics and OpenAPI): none.
PUBLIC_ROUTES: frozenset[str] = frozenset()


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    settings = settings or NotifySettings()

    async def context(runtime: Runtime[NotifyContext]) -> NotifyContext:
        template_service = Templates(settings.sms_max_fragments)
        notification_service = Notifications(settings, template_service)
        webhook_service = Webhooks(settings, notification_service)
        rule_service = Rules(
            settings,
            template_service,
            notification_service,
            webhook_service,
            functools.partial(account_mails.ask, runtime.bus),
        )
        worker = Worker(
            settings,
            runtime.sessions,
            notification_service,
            webhook_service,
            EmailSender(settings),
            sms_provider(settings),
            count_failure=runtime.metrics.count_dependency_failure,
        )
        for kind in ("notifications", "webhooks"):
            runtime.metrics.add_backlog_probe(
                f"notify_{kind}", functools.partial(worker.backlog, kind)
            )
        worker.start()
        return NotifyContext(
            runtime.sessions,
            template_service,
            notification_service,
            webhook_service,
            rule_service,
            worker,
            worker.senders,
            Contacts(settings),
        )

    async def stop(runtime: Runtime[NotifyContext]) -> None:
        await runtime.context.worker.stop()
        await runtime.context.webhooks.close()

    def periodic(runtime: Runtime[NotifyContext]) -> Sequence[Periodic]:
        purge = functools.partial(retention.purge_once, runtime.sessions, settings)
        return [
            Periodic(
                "notify-retention",
                settings.retention_purge_seconds,
                exclusive_pass(runtime.sessions, "notify-retention", purge),
            )
        ]

    def consumers(runtime: Runtime[NotifyContext]) -> Sequence[ConsumerSpec]:
        domain = runtime.context
        effect = exactly_once(runtime.sessions, settings.consumer_name, domain.rules.on_event)

        async def wanted(event: CloudEvent) -> bool:
            """notify's own events make no messages (:meth:`Rules.on_event`): one that no
            subscription wants has nothing to queue, and needs no write and no inbox record."""
            if event.source != rules_source:
                return True
            async with runtime.sessions() as session, session.begin():
                await read_only(session)
                return await domain.webhooks.wanted(session, event)

        async def handle(event: CloudEvent) -> None:
            # an event with nothing to send costs no claim round: the worker is woken only
            # once an event's committed effect queued work
            if await wanted(event) and await effect(event):
                domain.worker.wake()

        return [
            ConsumerSpec(
                durable=settings.consumer_name,
                subjects=["socle.*.>"],
                handler=handle,
                # a secret mail waits for identity (or procedures) to answer: about 40 min
                # of retries before the event goes to the dead-letter stream
                max_deliver=12,
                backoff=(1.0, 5.0, 30.0, 120.0, 300.0),
                # each mail and delivery stands alone; one waiting for its lookup must not
                # hold back every other mail for those 40 minutes (decision 0007)
                ordered=False,
            ),
            privacy.consumer(runtime.sessions),
            *export_consumers(
                privacy.SERVICE, runtime.sessions, privacy.export_person, settings, settings.issuer
            ),
        ]

    app: FastAPI = create_service_app(
        name="notify",
        settings=settings,
        routers=[
            templates.router,
            notifications.router,
            rules.router,
            subscriptions.router,
            retention.router,
            retention.holds_router,
            sender.router,
            contacts.router,
        ],
        description="Email, SMS and signed webhooks from templates, driven by API calls and "
        "by events.",
        context=context,
        consumers=consumers,
        periodic=periodic,
        on_shutdown=[stop],
    )
    return app
