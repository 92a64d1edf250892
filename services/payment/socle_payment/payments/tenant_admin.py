"""The tenant's own settings, read and changed by its administrators (and the CLI)."""

from __future__ import annotations

from typing import Any

import structlog

from socle_payment.payments.ledger import PaymentsBase

log = structlog.get_logger("socle_payment")


class TenantAdmin(PaymentsBase):
    """Per-tenant creditor and Stripe account."""

    async def tenant_settings(self, tenant: str) -> dict[str, Any]:
        async with self.sessions() as session, session.begin():
            return await self.tenants.view(session, tenant)

    async def configure_tenant(self, tenant: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply ``changes``; the next payment, QR-bill and Stripe call use them."""
        async with self.sessions() as session, session.begin():
            view = await self.tenants.configure(session, tenant, changes)
        log.info("tenant_settings_changed", tenant=tenant, changed=sorted(changes))
        return view
