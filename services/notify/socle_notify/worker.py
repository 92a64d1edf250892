"""The delivery worker: claims due notifications and webhook deliveries from the database,
sends them, and records each outcome. Runs inside the app; several replicas share the queue
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL).

Each claim is committed before anything is sent (status ``sending`` with a lease); the outcome
is committed after, with the outcomes of the other sends that ended meanwhile (one transaction
for them all, :mod:`socle_notify.settling`). The lease is renewed while a mail is being sent,
and an outcome that cannot be recorded (the database is down) is recorded again until it is,
so that only a crash of the process between the hand-off to the mail server and the
recording leaves the lease to expire and the message to be sent again: the mail's
``Message-ID`` and the webhook's ``webhook-id`` stay the same, so receivers can drop such a
repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.aio import stop_task
from socle.db import read_only
from socle.outages import Outages
from socle.problems import is_database_outage
from socle.tracing import extract_context, tracer
from socle_notify.channels import (
    SMTP_UNREACHABLE,
    Email,
    EmailSender,
    Outcome,
    RateLimiter,
    Sms,
    SmsProvider,
)
from socle_notify.leases import Lease, LeasedQueue
from socle_notify.models import Notification, Subscription, WebhookDelivery
from socle_notify.notifications import Notifications
from socle_notify.sealing import outgoing
from socle_notify.senders import MailSender, Senders
from socle_notify.settings import NotifySettings
from socle_notify.settling import Settler
from socle_notify.webhooks import Webhooks

log = structlog.get_logger("socle_notify.worker")

RECORD_RETRY_MAX_SECONDS = 5.0


class _Renewed:
    """A lease kept alive while its send is in progress: renewed every third of the lease
    through its queue; ``lease`` is the latest (the renewal stops when the lease was lost)."""

    def __init__(self, worker: Worker, lease: Lease, queue: LeasedQueue[Any]) -> None:
        self.worker = worker
        self.lease = lease
        self.queue = queue
        self._every = max(queue.lease_seconds / 3, 0.05)
        self._task: asyncio.Task[None] | None = None
        self._renewing = asyncio.Lock()  # a renewal is never cut off between commit and use

    async def __aenter__(self) -> _Renewed:
        self._task = asyncio.create_task(self._renew(), name=f"lease-{self.lease.id}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()

    async def release(self) -> None:
        async with self._renewing:
            task, self._task = self._task, None
            await stop_task(task)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            async with self._renewing:
                try:
                    async with self.worker.sessions() as session, session.begin():
                        renewed = await self.queue.renew(session, self.lease)
                except Exception as exc:  # the database is away: try again at the next tick
                    log.info("lease_renewal_failed", error=exc.__class__.__name__)
                    continue
                if renewed is None:
                    log.warning("lease_lost_while_sending", claim_id=self.lease.id)
                    return
                self.lease = renewed


class Worker:
    def __init__(
        self,
        settings: NotifySettings,
        sessions: async_sessionmaker[AsyncSession],
        notifications: Notifications,
        webhooks: Webhooks,
        email: EmailSender,
        sms: SmsProvider,
        count_failure: Callable[[str], None] | None = None,
    ) -> None:
        """``count_failure`` counts each failed call to a dependency (``database``, ``smtp``)."""
        self.settings = settings
        self.sessions = sessions
        self.notifications = notifications
        self.webhooks = webhooks
        self.email = email
        self.sms = sms
        self.senders = Senders(settings)
        self.limiter = RateLimiter(
            {"email": settings.email_rate_per_minute, "sms": settings.sms_rate_per_minute}
        )
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._concurrency = max(1, settings.worker_concurrency)
        self._slots = asyncio.Semaphore(self._concurrency)
        self._running: set[asyncio.Task[None]] = set()
        self._more_due = True
        self._outages = Outages(on_failure=count_failure, source="notify-worker")
        # outcomes recorded many to a transaction (see socle_notify.settling)
        self._settled_notifications = Settler(sessions, self._settle_notification)
        self._settled_webhooks = Settler(sessions, self._settle_webhook)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="notify-worker")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)
        for job in list(self._running):
            await stop_task(job)
        await self._settled_notifications.stop()
        await self._settled_webhooks.stop()
        await self.email.close()

    async def run(self) -> None:
        """Claims more as soon as a sender is idle (not once a whole round is done), so the
        senders stay busy while the queue has work; each finished delivery wakes the loop."""
        while True:
            self._wake.clear()
            started = 0
            try:
                started = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_database_outage(exc):  # told once per outage, not once per round
                    self._outages.failed("database", exc.__class__.__name__)
                else:
                    log.warning("worker_round_failed", error=exc.__class__.__name__)
            else:
                self._outages.answered("database")
            if started and len(self._running) < self._concurrency:
                continue
            # asyncio.timeout, not wait_for: wait_for may swallow a cancel arriving as it wakes.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.worker_poll_seconds):
                    await self._wake.wait()

    async def run_once(self) -> int:
        """Claim what is due, up to ``worker_batch`` claimed and not yet settled, when a
        sender is idle; start delivering it. Returns how many items were claimed."""
        room = max(1, self.settings.worker_batch) - len(self._running)
        if len(self._running) >= self._concurrency or room <= 0:
            # every sender busy: look again as soon as one is free, not at the next poll
            # (work may have come with the wake that found no room)
            self._more_due = True
            return 0
        wanted = room
        deliveries: list[Lease] = []
        # one write for both queues, the claimed rows read in it (not one more read each)
        async with self.sessions() as session, session.begin():
            claims = await self.notifications.queue.claim(session, room)
            room -= len(claims)
            if room > 0:
                deliveries = await self.webhooks.queue.claim(session, room)
            notifications = await self.notifications.queue.rows(session, claims)
            senders = {
                tenant: await self.senders.of(session, tenant)
                for tenant in {n.tenant for n in notifications.values() if n.channel == "email"}
            }
            loaded = await self.webhooks.load(session, deliveries)
        jobs: list[Awaitable[None]] = []
        for claim in claims:
            notification = notifications.get(claim.id)
            if notification is not None:  # None: gone since (purged)
                sender = senders.get(notification.tenant)
                jobs.append(self._deliver_notification(claim, notification, sender))
        for claim in deliveries:
            if claim.id in loaded:
                jobs.append(self._deliver_webhook(claim, *loaded[claim.id]))
        for job in jobs:
            task = asyncio.create_task(self._guarded(job))
            self._running.add(task)
            task.add_done_callback(self._finished)
        # Less than asked for: the queue is empty for now; new work wakes the worker.
        self._more_due = len(claims) + len(deliveries) >= wanted
        return len(claims) + len(deliveries)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._more_due:
            self._wake.set()  # a sender is free and work is waiting: claim more

    async def backlog(self, kind: str) -> int:
        """How many ``notifications`` or ``webhooks`` are due now (for /metrics)."""
        async with self.sessions() as session, session.begin():
            await read_only(session)
            if kind == "notifications":
                return await self.notifications.queue.backlog(session)
            return await self.webhooks.queue.backlog(session)

    async def _guarded(self, job: Awaitable[None]) -> None:
        async with self._slots:
            try:
                await job
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the lease expires and the item is tried again
                log.warning("delivery_failed_unexpectedly", error=exc.__class__.__name__)

    async def _deliver_notification(
        self, claim: Lease, notification: Notification, sender: MailSender | None
    ) -> None:
        wait = self.limiter.wait_seconds(notification.tenant, notification.channel)
        if wait > 0:
            async with self.sessions() as session, session.begin():
                await self.notifications.queue.give_back(session, claim, wait)
            log.info("rate_limited", tenant=notification.tenant, channel=notification.channel)
            return
        body, html = outgoing(
            notification.secret,
            notification.body,
            notification.html,
            (notification.sealed_body, notification.sealed_html),
        )
        async with _Renewed(self, claim, self.notifications.queue) as renewed:
            outcome = await self._send(notification, body, html, sender)
            await renewed.release()  # no renewal may race the recording
            status = await self._record(renewed.lease, outcome, notification)
        if notification.channel == "email":
            self._tell_smtp(outcome)
        log.info(
            "notification_attempted",
            notification_id=notification.id,
            channel=notification.channel,
            status=status,
            # only the code: an SMTP server's or gateway's text may quote the address
            error=outcome.error.partition(":")[0] if outcome.error else None,
        )

    async def _send(
        self, notification: Notification, body: str, html: str | None, sender: MailSender | None
    ) -> Outcome:
        """One attempt, as a span of the trace that asked for the notification."""
        with tracer.start_as_current_span(
            f"send {notification.channel}",
            kind=SpanKind.CLIENT,
            context=extract_context({"traceparent": notification.traceparent or ""}),
            attributes={"socle.notification_id": notification.id},
        ) as span:
            outcome = await self._attempt(notification, body, html, sender)
            span.set_attribute("socle.outcome", outcome.status)
            return outcome

    async def _attempt(
        self, notification: Notification, body: str, html: str | None, sender: MailSender | None
    ) -> Outcome:
        if notification.channel == "email":
            return await self.email.send(
                Email(
                    sender=sender,
                    notification_id=notification.id,
                    to=notification.recipient,
                    subject=notification.subject or "",
                    body=body,
                    html=html,
                    language=notification.language,
                )
            )
        return await self.sms.send(
            Sms(
                notification_id=notification.id,
                to=notification.recipient,
                body=body,
                reference=notification.reference,
            )
        )

    def _tell_smtp(self, outcome: Outcome) -> None:
        """The mail server unreachable: one line when an outage starts, one when it ends."""
        if outcome.error and outcome.error.startswith(SMTP_UNREACHABLE):
            self._outages.failed("smtp", outcome.error.partition(": ")[2] or outcome.error)
        elif "smtp" in self._outages.down and (
            outcome.delivered or (outcome.error or "").startswith("smtp-")
        ):
            self._outages.answered("smtp")  # it answered, even if to refuse this mail

    async def _record(
        self, claim: Lease, outcome: Outcome, notification: Notification
    ) -> str | None:
        """Record the outcome of a send, again and again while the database is unreachable:
        a mail handed to the server must not be sent a second time for want of a record."""
        delay = 0.2
        while True:
            try:
                return await self._settled_notifications((claim, outcome, notification))
            except Exception as exc:
                if not is_database_outage(exc):
                    raise
                if delay == 0.2:
                    log.info("outcome_not_recorded_yet", notification_id=claim.id)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECORD_RETRY_MAX_SECONDS)

    async def _settle_notification(
        self, session: AsyncSession, item: tuple[Lease, Outcome, Notification]
    ) -> str | None:
        return await self.notifications.settle(session, *item)

    async def _settle_webhook(
        self, session: AsyncSession, item: tuple[Lease, int | None, str | None, int]
    ) -> str | None:
        return await self.webhooks.settle(session, *item)

    async def _deliver_webhook(
        self, claim: Lease, delivery: WebhookDelivery, subscription: Subscription
    ) -> None:
        async with _Renewed(self, claim, self.webhooks.queue) as renewed:
            status_code, error, duration = await self.webhooks.post(delivery, subscription)
            await renewed.release()  # no renewal may race the recording
            status = await self._settled_webhooks((renewed.lease, status_code, error, duration))
        log.info(
            "webhook_attempted",
            delivery_id=delivery.id,
            status=status,
            status_code=status_code,
            error=error.partition(":")[0] if error else None,
        )
