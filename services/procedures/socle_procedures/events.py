"""The events the procedures service publishes (through the outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from socle.events import CloudEvent
from socle.web.i18n import localized
from socle_procedures.models import ProcedureVersion, Request

SERVICE = "procedures"

#: Event type published when a request enters a state.
EVENT_OF_STATE = {
    "draft": "procedure.request.draft",
    "submitted": "procedure.request.submitted",
    "in_review": "procedure.request.in_review",
    "information_requested": "procedure.request.information_requested",
    "approved": "procedure.request.approved",
    "rejected": "procedure.request.rejected",
    "withdrawn": "procedure.request.withdrawn",
}
MANDATE_REQUESTED = "procedure.mandate.requested"
MANDATE_CONFIRMED = "procedure.mandate.confirmed"
MANDATE_REVOKED = "procedure.mandate.revoked"
PUBLISHED = "procedure.published"
RETIRED = "procedure.retired"


@dataclass(frozen=True)
class Site:
    """Where the citizen follows the request: the commune's name and the portal's address,
    so a message made from an event (the receipt mail) names the commune and links back."""

    commune: str
    portal_url: str

    def request_url(self, request_id: str) -> str:
        return f"{self.portal_url.rstrip('/')}/requests/{request_id}"


def request_event(
    request: Request,
    *,
    previous: str | None,
    actor: str,
    note: str | None,
    templates: list[str],
    title: Any = None,
    site: Site | None = None,
) -> CloudEvent:
    """The event of ``request`` having just entered its state."""
    data: dict[str, Any] = {
        "request_id": request.id,
        "reference": request.reference,
        "procedure": request.procedure,
        "version": request.version,
        "state": request.state,
        "previous_state": previous,
        "owner": request.owner,
        "email": request.email,
        "locale": request.locale,
        "fee_amount": request.fee_amount,
        "currency": request.fee_currency,
        "payment_id": request.payment_id,
        "payment_status": request.payment_status,
        "actor": actor,
        "note": note,
        "templates": templates,
        "user_id": request.owner,
        "title": localized(title, request.locale) if title else request.procedure,
        "fee_display": _money(request.fee_amount, request.fee_currency),
    }
    if site is not None:
        data["commune"] = site.commune
        data["url"] = site.request_url(request.id)
    return CloudEvent.new(
        service=SERVICE,
        type=EVENT_OF_STATE[request.state],
        tenant=request.tenant,
        subject=request.id,
        data=data,
    )


def _money(amount: int, currency: str) -> str:
    whole, cents = divmod(amount, 100)
    return f"{currency} {whole:,}.{cents:02d}".replace(",", "\u2019")


def version_event(version: ProcedureVersion, event_type: str) -> CloudEvent:
    return CloudEvent.new(
        service=SERVICE,
        type=event_type,
        tenant=version.tenant,
        subject=version.slug,
        data={"procedure": version.slug, "version": version.version, "status": version.status},
    )
