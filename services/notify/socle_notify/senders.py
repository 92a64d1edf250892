"""Per-tenant sender: each commune's mails come from its own name and address (and carry its
Reply-To); a tenant without one uses the installation's ``SOCLE_MAIL_FROM``."""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.db import utcnow
from socle.problems import Unprocessable
from socle_notify.models import TenantSender
from socle_notify.settings import NotifySettings


@dataclass(frozen=True)
class MailSender:
    """The ``From`` (and ``Reply-To``) of a tenant's mails."""

    from_name: str
    from_address: str
    reply_to: str | None = None

    @property
    def from_header(self) -> str:
        user, _, domain = self.from_address.partition("@")
        return str(Address(display_name=self.from_name, username=user, domain=domain))

    @classmethod
    def default(cls, settings: NotifySettings) -> MailSender:
        name, address = parseaddr(settings.mail_from)
        return cls(from_name=name, from_address=address)


def checked_address(value: str, field: str, code: str = "invalid-sender") -> str:
    """``value`` normalised, or 422 naming ``field``."""
    try:
        return str(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise Unprocessable(
            f"{field} is not a valid e-mail address: {exc}",
            code=code,
            errors=[{"field": f"body.{field}", "message": str(exc), "code": "invalid"}],
        ) from None


class Senders:
    """Reads and changes the tenants' senders (inside the caller's transaction)."""

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    async def of(self, session: AsyncSession, tenant: str) -> MailSender:
        row = await session.get(TenantSender, tenant)
        if row is None:
            return MailSender.default(self.settings)
        return MailSender(row.from_name, row.from_address, row.reply_to)

    async def configure(
        self, session: AsyncSession, tenant: str, sender: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Set ``tenant``'s sender (``from_name``, ``from_address``, ``reply_to``), or None
        to fall back to the installation's."""
        row = await session.get(TenantSender, tenant, with_for_update=True)
        if sender is None:
            if row is not None:
                await session.delete(row)
                await session.flush()
            return await self.view(session, tenant)
        address = checked_address(sender["from_address"], "from_address")
        reply_to = (
            checked_address(sender["reply_to"], "reply_to") if sender.get("reply_to") else None
        )
        name = str(sender["from_name"]).strip()
        if any(c in name for c in '\r\n<>"') or not name:
            raise Unprocessable(
                "from_name must be a plain name (no line breaks, quotes or angle brackets).",
                code="invalid-sender",
                errors=[{"field": "body.from_name", "message": "plain name", "code": "invalid"}],
            )
        if row is None:
            row = TenantSender(tenant=tenant)
            session.add(row)
        row.from_name, row.from_address, row.reply_to = name, address, reply_to
        row.updated_at = utcnow()
        await session.flush()
        return await self.view(session, tenant)

    # ---- use cases (each its own transaction) ---------------------------------------------

    async def show(self, sessions: async_sessionmaker[AsyncSession], tenant: str) -> dict[str, Any]:
        async with sessions() as session, session.begin():
            return await self.view(session, tenant)

    async def change(
        self,
        sessions: async_sessionmaker[AsyncSession],
        tenant: str,
        sender: dict[str, Any] | None,
    ) -> dict[str, Any]:
        async with sessions() as session, session.begin():
            return await self.configure(session, tenant, sender)

    async def view(self, session: AsyncSession, tenant: str) -> dict[str, Any]:
        row = await session.get(TenantSender, tenant)
        sender = await self.of(session, tenant)
        return {
            "tenant": tenant,
            "source": "tenant" if row is not None else "default",
            "from_name": sender.from_name,
            "from_address": sender.from_address,
            "reply_to": sender.reply_to,
            "from_header": sender.from_header,
        }
