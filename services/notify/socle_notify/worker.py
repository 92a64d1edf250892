"""The delivery worker: claims due notifications and webhook deliveries from the database,
sends them, and records each outcome. Runs inside the app; several replicas share the queue
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL).

Each claim is committed before anything is sent (status ``sending`` with a lease); the outcome
is committed after. A crash in between leaves the lease to expire, and the message is tried
again: the mail's ``Message-ID`` and the webhook's ``webhook-id`` stay the same, so receivers
can drop such a repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.aio import stop_task
from socle_notify.channels import Email, EmailSender, Outcome, RateLimiter, Sms, SmsProvider
from socle_notify.notifications import Claim, Notifications
from socle_notify.sealing import outgoing
from socle_notify.settings import NotifySettings
from socle_notify.webhooks import DeliveryClaim, Webhooks

log = structlog.get_logger("socle_notify.worker")


class Worker:
    def __init__(
        self,
        settings: NotifySettings,
        sessions: async_sessionmaker[AsyncSession],
        notifications: Notifications,
        webhooks: Webhooks,
        email: EmailSender,
        sms: SmsProvider,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.notifications = notifications
        self.webhooks = webhooks
        self.email = email
        self.sms = sms
        self.limiter = RateLimiter(
            {"email": settings.email_rate_per_minute, "sms": settings.sms_rate_per_minute}
        )
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(max(1, settings.worker_concurrency))

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="notify-worker")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)

    async def run(self) -> None:
        while True:
            self._wake.clear()
            busy = 0
            try:
                busy = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("worker_round_failed", error=exc.__class__.__name__)
            if busy:
                continue
            # asyncio.timeout, not wait_for: wait_for may swallow a cancel arriving as it wakes.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.worker_poll_seconds):
                    await self._wake.wait()

    async def run_once(self) -> int:
        """One round: claim and deliver what is due; return how many items were handled."""
        limit = self.settings.worker_batch
        async with self.sessions() as session, session.begin():
            claims = await self.notifications.claim(session, limit)
        async with self.sessions() as session, session.begin():
            deliveries = await self.webhooks.claim(session, limit)
        await asyncio.gather(
            *(self._guarded(self._deliver_notification(c)) for c in claims),
            *(self._guarded(self._deliver_webhook(d)) for d in deliveries),
        )
        return len(claims) + len(deliveries)

    async def _guarded(self, job: Awaitable[None]) -> None:
        async with self._slots:
            try:
                await job
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the lease expires and the item is tried again
                log.warning("delivery_failed_unexpectedly", error=exc.__class__.__name__)

    async def _deliver_notification(self, claim: Claim) -> None:
        async with self.sessions() as session:
            notification = await self.notifications.load(session, claim)
        if notification is None:
            return
        wait = self.limiter.wait_seconds(notification.tenant, notification.channel)
        if wait > 0:
            async with self.sessions() as session, session.begin():
                await self.notifications.postpone(session, claim, wait)
            log.info("rate_limited", tenant=notification.tenant, channel=notification.channel)
            return
        outcome: Outcome
        body, html = outgoing(
            notification.secret,
            notification.body,
            notification.html,
            (notification.sealed_body, notification.sealed_html),
        )
        if notification.channel == "email":
            outcome = await self.email.send(
                Email(
                    notification_id=notification.id,
                    to=notification.recipient,
                    subject=notification.subject or "",
                    body=body,
                    html=html,
                    language=notification.language,
                )
            )
        else:
            outcome = await self.sms.send(
                Sms(
                    notification_id=notification.id,
                    to=notification.recipient,
                    body=body,
                    reference=notification.reference,
                )
            )
        async with self.sessions() as session, session.begin():
            status = await self.notifications.settle(session, claim, outcome)
        log.info(
            "notification_attempted",
            notification_id=notification.id,
            channel=notification.channel,
            status=status,
            # only the code: an SMTP server's or gateway's text may quote the address
            error=outcome.error.partition(":")[0] if outcome.error else None,
        )

    async def _deliver_webhook(self, claim: DeliveryClaim) -> None:
        async with self.sessions() as session:
            loaded = await self.webhooks.load(session, claim)
        if loaded is None:
            return
        delivery, subscription = loaded
        status_code, error, duration = await self.webhooks.post(delivery, subscription)
        async with self.sessions() as session, session.begin():
            status = await self.webhooks.settle(session, claim, status_code, error, duration)
        log.info(
            "webhook_attempted",
            delivery_id=delivery.id,
            status=status,
            status_code=status_code,
            error=error.partition(":")[0] if error else None,
        )
