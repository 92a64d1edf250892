"""Delivery channels: email over SMTP, SMS through a provider (HTTP gateway or local sink)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from dataclasses import dataclass
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Protocol

import aiosmtplib
import httpx
import structlog

from socle.db import utcnow
from socle_notify.senders import MailSender
from socle_notify.settings import NotifySettings

log = structlog.get_logger("socle_notify.channels")


class _HeaderClasses(HeaderRegistry):
    """The standard header classes, each made once: the standard registry makes a new class
    for every header of every message (about a third of the time to build a mail)."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        made = self._made.get(name.lower())
        if made is None:
            made = self._made[name.lower()] = super().__getitem__(name)
        return made


MAIL_POLICY = policy.default.clone(header_factory=_HeaderClasses())
"""The standard library's default e-mail policy, its header classes made once."""


@dataclass(frozen=True)
class Outcome:
    """What a channel says about one attempt: delivered, or failed temporarily or for good."""

    status: str  # delivered | temporary_failure | permanent_failure
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status == "delivered"


DELIVERED = Outcome("delivered")
SMTP_UNREACHABLE = "smtp-unreachable"
"""The error of an outcome when the mail server could not be reached at all."""
SMTP_IDLE_SECONDS = 30.0
"""An SMTP connection idle longer than this is closed rather than reused (servers drop idle
clients after a few minutes; RFC 5321 asks them to wait at least 5)."""


@dataclass(frozen=True)
class Email:
    notification_id: str
    to: str
    subject: str
    body: str
    html: str | None
    language: str
    sender: MailSender | None = None
    """The tenant's own sender; the installation's ``SOCLE_MAIL_FROM`` when None."""


class EmailSender:
    """Sends mail over SMTP (aiosmtplib), STARTTLS and auth when configured, reusing open
    connections: up to ``SOCLE_WORKER_CONCURRENCY`` stay open between mails, each at most
    ``SMTP_IDLE_SECONDS`` idle, so a mail costs one ``MAIL``/``RCPT``/``DATA`` exchange rather
    than a connection, a greeting, ``EHLO`` (and TLS and login) and ``QUIT``."""

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        self._idle: list[tuple[float, aiosmtplib.SMTP]] = []

    def message(self, mail: Email) -> EmailMessage:
        message = EmailMessage(policy=MAIL_POLICY)
        sender = mail.sender.from_header if mail.sender else self.settings.mail_from
        message["From"] = sender
        if mail.sender and mail.sender.reply_to:
            message["Reply-To"] = mail.sender.reply_to
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = format_datetime(utcnow())
        domain = parseaddr(sender)[1].rpartition("@")[2] or "socle.localhost"
        message["Message-ID"] = f"<{mail.notification_id}@{domain}>"
        message["X-Socle-Notification-Id"] = mail.notification_id
        message.set_content(mail.body)
        if mail.html:
            page = (
                f'<!doctype html>\n<html lang="{mail.language}"><body>\n{mail.html}</body></html>\n'
            )
            message.add_alternative(page, subtype="html")
        message["Content-Language"] = mail.language  # after set_content, which drops it
        return message

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username or None,
            password=(s.smtp_password or None) if s.smtp_username else None,
            start_tls=s.smtp_starttls,
            use_tls=s.smtp_use_tls,
            timeout=s.smtp_timeout_seconds,
        )

    def _reusable(self) -> aiosmtplib.SMTP | None:
        """The most recently used open connection, if one is fresh enough."""
        now = time.monotonic()
        while self._idle:
            since, client = self._idle.pop()
            if now - since < SMTP_IDLE_SECONDS and client.is_connected:
                return client
            client.close()
        return None

    def _give_back(self, client: aiosmtplib.SMTP) -> None:
        if len(self._idle) < max(1, self.settings.worker_concurrency) and client.is_connected:
            self._idle.append((time.monotonic(), client))
        else:
            client.close()

    async def close(self) -> None:
        """Say goodbye on every idle connection (at shutdown)."""
        idle, self._idle = self._idle, []
        for _, client in idle:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await client.quit()
            client.close()

    async def _send_once(self, message: EmailMessage) -> None:
        client = self._reusable()
        if client is not None:
            try:
                await client.send_message(message)
            except aiosmtplib.SMTPServerDisconnected:
                # closed by the server while idle (the usual case): a new connection is tried;
                # at worst the mail is sent twice with its Message-ID, as after any cut
                client.close()
            except BaseException:
                client.close()
                raise
            else:
                self._give_back(client)
                return
        client = self._client()
        try:
            await client.connect()
            await client.send_message(message)
        except BaseException:
            client.close()
            raise
        self._give_back(client)

    async def send(self, mail: Email) -> Outcome:
        try:
            await self._send_once(self.message(mail))
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [err.code for err in exc.recipients]
            status = "permanent_failure" if all(c >= 500 for c in codes) else "temporary_failure"
            return Outcome(status, f"smtp-recipient-refused: {codes}")
        except aiosmtplib.SMTPAuthenticationError as exc:
            # our credentials, not the message: retried so nothing is lost once fixed
            return Outcome("temporary_failure", f"smtp-auth-{exc.code}: check SMTP credentials")
        except aiosmtplib.SMTPResponseException as exc:
            status = "permanent_failure" if exc.code >= 500 else "temporary_failure"
            return Outcome(status, f"smtp-{exc.code}: {exc.message[:200]}")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Outcome("temporary_failure", f"{SMTP_UNREACHABLE}: {exc.__class__.__name__}")
        return DELIVERED


@dataclass(frozen=True)
class Sms:
    notification_id: str
    to: str
    body: str
    reference: str | None


class SmsProvider(Protocol):
    """What notify needs from an SMS provider: send one message, say how it went."""

    async def send(self, sms: Sms) -> Outcome: ...


class SinkSms:
    """Development provider: writes each SMS as JSON in a folder and keeps it in memory."""

    def __init__(self, directory: str, sender: str) -> None:
        self.directory = Path(directory)
        self.sender = sender
        self.messages: list[dict[str, str]] = []

    async def send(self, sms: Sms) -> Outcome:
        record = {"id": sms.notification_id, "from": self.sender, "to": sms.to, "body": sms.body}
        self.messages.append(record)

        def write() -> None:
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / f"{sms.notification_id}.json").write_text(json.dumps(record))

        await asyncio.to_thread(write)
        log.info("sms_sink_received", notification_id=sms.notification_id)
        return DELIVERED


class HttpGatewaySms:
    """An HTTP SMS gateway: ``POST <url>`` with ``{"from","to","text","reference"}`` JSON and a
    bearer token; 2xx is delivered, 4xx (but 408/429) a permanent failure, the rest temporary."""

    def __init__(self, url: str, token: str, sender: str, timeout: float = 10.0) -> None:
        self.url = url
        self.token = token
        self.sender = sender
        self.timeout = timeout

    async def send(self, sms: Sms) -> Outcome:
        headers = {"Idempotency-Key": sms.notification_id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = {
            "from": self.sender,
            "to": sms.to,
            "text": sms.body,
            "reference": sms.notification_id,
        }
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(self.url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            error = f"sms-gateway-unreachable: {exc.__class__.__name__}"
            return Outcome("temporary_failure", error)
        if response.is_success:
            return DELIVERED
        code = response.status_code
        if 400 <= code < 500 and code not in (408, 429):
            return Outcome("permanent_failure", f"sms-gateway-{code}: {response.text[:200]}")
        return Outcome("temporary_failure", f"sms-gateway-{code}")


def sms_provider(settings: NotifySettings) -> SmsProvider:
    if settings.sms_provider == "http":
        return HttpGatewaySms(
            settings.sms_gateway_url, settings.sms_gateway_token, settings.sms_sender
        )
    return SinkSms(settings.sms_sink_dir, settings.sms_sender)


class RateLimiter:
    """At most ``per_minute`` sends per (tenant, channel) in any sliding minute."""

    def __init__(self, limits: dict[str, int]) -> None:
        self.limits = limits
        self._sent: dict[tuple[str, str], deque[float]] = {}

    def wait_seconds(self, tenant: str, channel: str) -> float:
        """0 and counts the send when allowed; otherwise how long until a slot frees."""
        limit = self.limits.get(channel, 0)
        if limit <= 0:
            return 0.0
        now = time.monotonic()
        window = self._sent.setdefault((tenant, channel), deque())
        while window and now - window[0] >= 60.0:
            window.popleft()
        if len(window) >= limit:
            return 60.0 - (now - window[0])
        window.append(now)
        return 0.0
