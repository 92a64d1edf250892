"""The events the procedures service publishes (through the outbox); their payloads are
the models of ``socle.eventtypes.procedures``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from socle.events import Event
from socle.eventtypes.procedures import EVENT_OF_STATE as REQUEST_EVENTS
from socle.eventtypes.procedures import (
    MandateConfirmed,
    MandateRequested,
    MandateRevoked,
    ProcedurePublished,
    ProcedureRetired,
    RequestChanged,
    VersionChanged,
)
from socle.web.i18n import localized
from socle_procedures.models import ProcedureVersion, Request

#: Event type published when a request enters a state.
EVENT_OF_STATE: dict[str, str] = {state: model.TYPE for state, model in REQUEST_EVENTS.items()}
MANDATE_REQUESTED = MandateRequested.TYPE
MANDATE_CONFIRMED = MandateConfirmed.TYPE
MANDATE_REVOKED = MandateRevoked.TYPE
PUBLISHED = ProcedurePublished.TYPE
RETIRED = ProcedureRetired.TYPE


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
    **more: Any,
) -> Event[RequestChanged]:
    """The event of ``request`` having just entered its state; ``more``: the optional fields
    of :class:`RequestChanged` (``action``, ``message``, ``fields``, ...)."""
    data: dict[str, Any] = {
        "request_id": request.id,
        "reference": request.reference,
        "procedure": request.procedure,
        "version": request.version,
        "state": request.state,
        "previous_state": previous,
        "owner": request.owner,
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
        **more,
    }
    if site is not None:
        data["commune"] = site.commune
        data["url"] = site.request_url(request.id)
    payload = REQUEST_EVENTS[request.state].model_validate(data)
    event: Event[RequestChanged] = payload.event(tenant=request.tenant, subject=request.id)
    return event


def _money(amount: int, currency: str) -> str:
    whole, cents = divmod(amount, 100)
    return f"{currency} {whole:,}.{cents:02d}".replace(",", "\u2019")


def version_event(version: ProcedureVersion, event_type: str) -> Event[VersionChanged]:
    model: type[VersionChanged] = (
        ProcedurePublished if event_type == PUBLISHED else ProcedureRetired
    )
    data = model(procedure=version.slug, version=version.version, status=version.status)
    event: Event[VersionChanged] = data.event(tenant=version.tenant, subject=version.slug)
    return event
