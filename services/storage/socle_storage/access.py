"""Who may see and change which document.

- a citizen (role ``citizen``) sees the documents they own (``owner`` = their ``sub``);
- an agent sees the commune's own documents (no owner), the documents attached to a
  procedure, and those a citizen shared (an active grant);
- an admin, and a service acting for the tenant (a token without citizen or agent role),
  see every document of the tenant.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, or_, select, true

from socle.auth import Principal
from socle_storage.models import Document, Grant


def is_agent(principal: Principal) -> bool:
    return principal.has_role("agent") and not principal.has_role("admin")


def is_citizen(principal: Principal) -> bool:
    return principal.has_role("citizen") and not principal.has_role("agent", "admin")


def acts_for_tenant(principal: Principal) -> bool:
    """Admins and services (no person role) act for the whole tenant."""
    return principal.has_role("admin") or not principal.has_role("citizen", "agent")


def active_grant(now: datetime, procedure: str | None = None) -> ColumnElement[bool]:
    conditions = [
        Grant.document_id == Document.id,
        Grant.revoked_at.is_(None),
        or_(Grant.expires_at.is_(None), Grant.expires_at > now),
    ]
    if procedure is not None:
        conditions += [Grant.grantee_type == "procedure", Grant.procedure == procedure]
    return exists(select(Grant.id).where(and_(*conditions)))


def visible(principal: Principal, now: datetime) -> ColumnElement[bool]:
    """SQL condition: the documents ``principal`` may see in its tenant."""
    tenant = Document.tenant == principal.tenant
    if is_citizen(principal):
        return and_(tenant, Document.owner == principal.subject)
    if is_agent(principal):
        return and_(
            tenant,
            or_(Document.owner.is_(None), Document.procedure.is_not(None), active_grant(now)),
        )
    return and_(tenant, true())


def may_share(principal: Principal, doc: Document) -> bool:
    """The owner shares their documents; admins and services share for the tenant."""
    if is_citizen(principal):
        return doc.owner == principal.subject
    return acts_for_tenant(principal)
