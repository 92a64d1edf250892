"""What the procedures routers, pages and use cases need at run time, built once at
start-up. Routers take it as ``ContextDep``; pages read it with
``context_of(page.request, ProceduresContext)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    # only annotations: the portal and the clients import this module
    from socle_procedures.charging import Charging
    from socle_procedures.events import Site
    from socle_procedures.portal.context import Portal
    from socle_procedures.storage_client import StorageClient


@dataclass
class ProceduresContext:
    sessions: async_sessionmaker[AsyncSession]
    charging: Charging
    """Fees asked of the payment service."""
    portal: Portal
    """The citizen portal's login (OpenID Connect client, cookies)."""
    site: Site
    """The commune's name and public address, for pages and decisions."""
    storage: StorageClient
    """The storage service, with the caller's token."""
