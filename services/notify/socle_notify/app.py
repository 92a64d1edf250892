"""Application factory of the notify service."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence

from fastapi import FastAPI

from socle import account_mails
from socle.aio import stop_task
from socle.bus import ConsumerSpec
from socle.events import CloudEvent
from socle.export_parts import export_consumers
from socle.inbox import exactly_once
from socle.service import Runtime, create_service_app
from socle_notify import privacy, retention
from socle_notify.api import notifications, rules, sender, subscriptions, templates
from socle_notify.api.deps import Domain
from socle_notify.channels import EmailSender, sms_provider
from socle_notify.notifications import Notifications
from socle_notify.rules import Rules
from socle_notify.settings import NotifySettings
from socle_notify.templates import Templates
from socle_notify.webhooks import Webhooks
from socle_notify.worker import Worker

#: Routes callable without an access token (besides health, metrics and OpenAPI): none.
PUBLIC_ROUTES: frozenset[str] = frozenset()


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    settings = settings or NotifySettings()

    async def start(runtime: Runtime) -> None:
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
            count_failure=runtime.metrics.count_dependency_failure if runtime.metrics else None,
        )
        if runtime.metrics is not None:
            for kind in ("notifications", "webhooks"):
                runtime.metrics.add_backlog_probe(
                    f"notify_{kind}", functools.partial(worker.backlog, kind)
                )
        runtime.extras["domain"] = Domain(
            template_service,
            notification_service,
            webhook_service,
            rule_service,
            worker,
            worker.senders,
        )
        worker.start()
        if settings.retention_purge_seconds > 0:
            runtime.extras["retention_purge"] = asyncio.create_task(
                retention.run(runtime.sessions, settings), name="notify-retention"
            )

    async def stop(runtime: Runtime) -> None:
        await stop_task(runtime.extras.pop("retention_purge", None))
        domain: Domain = runtime.extras["domain"]
        await domain.worker.stop()
        await domain.webhooks.close()

    def consumers(runtime: Runtime) -> Sequence[ConsumerSpec]:
        domain: Domain = runtime.extras["domain"]
        effect = exactly_once(runtime.sessions, settings.consumer_name, domain.rules.on_event)

        async def handle(event: CloudEvent) -> None:
            await effect(event)
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
        ],
        description="Email, SMS and signed webhooks from templates, driven by API calls and "
        "by events.",
        consumers=consumers,
        on_startup=[start],
        on_shutdown=[stop],
    )
    return app
