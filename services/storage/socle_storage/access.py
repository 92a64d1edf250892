"""Who may see and change which document, from ``socle.auth.Principal``:

- a person who is not the commune's staff (``Principal.owner`` is set: a citizen, a mediator,
  a person without a role) sees the documents it owns (``owner`` = its ``sub``), and only
  those;
- an agent (staff without the admin role) sees the commune's own documents (no owner), the
  documents attached to a procedure, and those a citizen shared (an active grant);
- an admin, and a client acting for itself (``sub`` = ``client_id``: the commune's
  services), see every document of the tenant.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, or_, select, true

from socle.auth import Principal
from socle_storage.models import Document, Grant


def is_agent(principal: Principal) -> bool:
    """Staff reaching only what the commune owns or what was shared with it."""
    return principal.is_staff and not principal.has_role("admin")


def acts_for_tenant(principal: Principal) -> bool:
    """Admins and the commune's services (client tokens) act for the whole tenant."""
    return principal.commune_wide and not is_agent(principal)


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
    if principal.owner is not None:
        return and_(tenant, Document.owner == principal.owner)
    if is_agent(principal):
        return and_(
            tenant,
            or_(Document.owner.is_(None), Document.procedure.is_not(None), active_grant(now)),
        )
    return and_(tenant, true())


def may_share(principal: Principal, doc: Document) -> bool:
    """The owner shares their documents; admins and services share for the tenant."""
    if principal.owner is not None:
        return doc.owner == principal.owner
    return acts_for_tenant(principal)
