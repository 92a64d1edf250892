"""Per-tenant operations contacts: where a commune's alerts go (a mail, SMS or webhook that
failed for good). A tenant without its own uses the installation's
``SOCLE_TENANT_OPERATIONS_EMAILS`` entry, else ``SOCLE_OPERATIONS_EMAIL``. Changed through
``/v1/admin/operations-contacts`` or ``socle tenants configure``; the next alert uses them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.db import utcnow
from socle.problems import Unprocessable
from socle_notify.models import TenantOperationsContacts
from socle_notify.senders import checked_address
from socle_notify.settings import NotifySettings

MAX_CONTACTS = 10


class Contacts:
    """Reads and changes the tenants' operations contacts."""

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    async def of(self, session: AsyncSession, tenant: str) -> list[str]:
        """The addresses that hear about ``tenant``'s final failures (none: nobody)."""
        row = await session.get(TenantOperationsContacts, tenant)
        if row is not None:
            return list(row.emails)
        default = self.settings.operations_address(tenant)
        return [default] if default else []

    async def configure(
        self, session: AsyncSession, tenant: str, emails: list[str] | None
    ) -> dict[str, Any]:
        """Set ``tenant``'s contacts, or None to fall back to the installation's."""
        row = await session.get(TenantOperationsContacts, tenant, with_for_update=True)
        if emails is None:
            if row is not None:
                await session.delete(row)
                await session.flush()
            return await self.view(session, tenant)
        if not emails or len(emails) > MAX_CONTACTS:
            raise Unprocessable(
                f"Give 1 to {MAX_CONTACTS} addresses (null: the installation's).",
                code="invalid-contacts",
                errors=[
                    {"field": "body.emails", "message": f"1 to {MAX_CONTACTS}", "code": "invalid"}
                ],
            )
        checked = [checked_address(e, "emails", "invalid-contacts") for e in emails]
        checked = list(dict.fromkeys(checked))  # each address once, in the order given
        if row is None:
            row = TenantOperationsContacts(tenant=tenant)
            session.add(row)
        row.emails, row.updated_at = checked, utcnow()
        await session.flush()
        return await self.view(session, tenant)

    async def view(self, session: AsyncSession, tenant: str) -> dict[str, Any]:
        row = await session.get(TenantOperationsContacts, tenant)
        return {
            "tenant": tenant,
            "source": "tenant" if row is not None else "default",
            "emails": await self.of(session, tenant),
        }

    # ---- use cases (each its own transaction) ---------------------------------------------

    async def show(self, sessions: async_sessionmaker[AsyncSession], tenant: str) -> dict[str, Any]:
        async with sessions() as session, session.begin():
            return await self.view(session, tenant)

    async def change(
        self, sessions: async_sessionmaker[AsyncSession], tenant: str, emails: list[str] | None
    ) -> dict[str, Any]:
        async with sessions() as session, session.begin():
            return await self.configure(session, tenant, emails)
