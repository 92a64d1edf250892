"""The payload model of every event type on the bus, by producer. Producers build events
through them (``UserDeleted(user_id=...).event(tenant=...)``), consumers read them
(``UserDeleted.of(event)``), and the catalogue ``events.asyncapi.yaml`` is generated from
them (``make events-catalogue``), so a producer and its consumers cannot drift."""

from __future__ import annotations

from socle.events import EventData
from socle.eventtypes import identity, notify, payment, privacy, procedures, storage

PAYLOADS: dict[str, type[EventData]] = {
    model.TYPE: model
    for module in (identity, payment, storage, notify, procedures, privacy)
    for model in module.EVENTS
}
"""Every event type and its payload model."""


def payload_model(event_type: str) -> type[EventData] | None:
    return PAYLOADS.get(event_type)
