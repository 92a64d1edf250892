"""Erasure of a person across services: identity publishes ``user.deleted``; every service
applies its own rule once (through its inbox) and answers ``person.erased`` with what it
erased and what it kept and why. The answer names categories and counts, never personal
data; its ``erasure_id`` is the id of the ``user.deleted`` event."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.bus import ConsumerSpec, Handler
from socle.events import CloudEvent, Event, MalformedEvent
from socle.eventtypes.identity import UserDeleted
from socle.eventtypes.privacy import ErasureOutcome, ExportPart, Kept, PersonExportRequested
from socle.inbox import exactly_once
from socle.outbox import record_event

__all__ = ["ErasureOutcome", "ExportPart", "Kept", "PersonalData"]

log = structlog.get_logger("socle.privacy")


@dataclass(frozen=True)
class PersonalData:
    """One entry of the register of processing activities, declared next to the models
    (``PERSONAL_DATA`` in each ``models.py``): which columns (``table.column``) hold
    personal data, what it is, why it is processed, on which legal basis and how long it is
    kept. ``make privacy-register`` writes them all to ``docs/privacy-register.md``."""

    columns: tuple[str, ...]
    data: str
    purpose: str
    legal_basis: str
    retention: str


USER_DELETED = "user.deleted"
PERSON_ERASED = "person.erased"

#: The services that hold a person's data and answer every ``user.deleted``.
ERASING_SERVICES: tuple[str, ...] = ("storage", "payment", "notify", "procedures")


@dataclass(frozen=True)
class ErasureRequest:
    """Whose data to erase: the account id identity knew the person by, in a tenant."""

    erasure_id: str
    tenant: str
    user_id: str


EraseFn = Callable[[AsyncSession, ErasureRequest], Awaitable[ErasureOutcome]]


def new_pseudonym() -> str:
    """A random stand-in for a person's identifier: records of one erasure stay grouped,
    nothing links them back to the person."""
    return f"erased-{uuid.uuid4().hex}"


def person_erased(*, tenant: str, outcome: ErasureOutcome) -> Event[ErasureOutcome]:
    return outcome.event(
        tenant=tenant, subject=f"erasure:{outcome.erasure_id}", service=outcome.service
    )


def erasure_effect(
    service: str, erase: EraseFn
) -> Callable[[AsyncSession, CloudEvent], Awaitable[None]]:
    """Run ``erase`` for a ``user.deleted`` event and record ``person.erased`` in the same
    transaction (the inbox's)."""

    async def effect(session: AsyncSession, event: CloudEvent) -> None:
        try:
            deleted = UserDeleted.of(event)
        except MalformedEvent as exc:
            log.warning("erasure_event_unreadable", event_id=event.id, error=str(exc))
            return
        request = ErasureRequest(erasure_id=event.id, tenant=event.tenant, user_id=deleted.user_id)
        outcome = await erase(session, request)
        outcome.erasure_id, outcome.service = event.id, service
        await record_event(
            session,
            person_erased(tenant=event.tenant, outcome=outcome),
            aggregate=f"erasure:{event.id}",
        )

    return effect


def erasure_consumer(
    service: str,
    sessions: async_sessionmaker[AsyncSession],
    erase: EraseFn,
    after: Callable[[], Awaitable[None]] | None = None,
) -> ConsumerSpec:
    """The durable consumer of ``user.deleted`` of ``service``: at most one effect per event,
    then ``after`` (for example waking a purge), outside the transaction."""
    once = exactly_once(sessions, f"{service}-erasure", erasure_effect(service, erase))

    async def handle(event: CloudEvent) -> None:
        await once(event)
        if after is not None:
            await after()

    handler: Handler = handle
    return ConsumerSpec(
        durable=f"{service}-erasure",
        subjects=[f"socle.*.{USER_DELETED}"],
        handler=handler,
        ordered=False,  # one event per person, each erasure stands alone
    )


# --- Export (right of access) -------------------------------------------------------------

PERSON_EXPORT_REQUESTED = "person.export.requested"
PERSON_EXPORT_READY = "person.export.ready"

#: The services that write a part of every export (identity writes its own).
EXPORTING_SERVICES: tuple[str, ...] = ("identity", *ERASING_SERVICES)


@dataclass(frozen=True)
class ExportRequest:
    """Whose data to export: the account id identity knows the person by, in a tenant."""

    export_id: str
    tenant: str
    user_id: str


#: A service's data of the person, by category: lists of JSON objects.
PersonData = dict[str, list[dict[str, Any]]]
CollectFn = Callable[[AsyncSession, ExportRequest], Awaitable[PersonData]]
#: Writes a part's bytes for an export and answers where they lie.
StoreFn = Callable[[ExportRequest, str, bytes], Awaitable[str]]


def as_json(row: object, fields: Sequence[str]) -> dict[str, Any]:
    """The named attributes of a row as JSON values (times as ISO 8601)."""
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(row, name)
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def part_key(export_id: str, service: str) -> str:
    """Where a service's part of an export lies in the export store."""
    return f"exports/{export_id}/{service}.json"


def encode_part(service: str, request: ExportRequest, data: PersonData) -> bytes:
    return json.dumps(
        {
            "service": service,
            "export_id": request.export_id,
            "user_id": request.user_id,
            "data": data,
        },
        ensure_ascii=False,
        indent=2,
        sort_keys=True,
    ).encode()


def person_export_ready(*, tenant: str, part: ExportPart) -> Event[ExportPart]:
    return part.event(tenant=tenant, subject=f"export:{part.export_id}", service=part.service)


def export_effect(
    service: str, collect: CollectFn, store: StoreFn
) -> Callable[[AsyncSession, CloudEvent], Awaitable[None]]:
    """Collect the person's data for a ``person.export.requested`` event, write it to the
    export store (the same key each time: a retry overwrites) and record
    ``person.export.ready`` in the inbox's transaction."""

    async def effect(session: AsyncSession, event: CloudEvent) -> None:
        try:
            asked = PersonExportRequested.of(event)
        except MalformedEvent as exc:
            log.warning("export_event_unreadable", event_id=event.id, error=str(exc))
            return
        request = ExportRequest(export_id=event.id, tenant=event.tenant, user_id=asked.user_id)
        data = await collect(session, request)
        key = await store(request, service, encode_part(service, request, data))
        part = ExportPart(
            export_id=event.id,
            service=service,
            object=key,
            counts={category: len(rows) for category, rows in data.items()},
        )
        await record_event(
            session,
            person_export_ready(tenant=event.tenant, part=part),
            aggregate=f"export:{event.id}",
        )

    return effect


def export_consumer(
    service: str,
    sessions: async_sessionmaker[AsyncSession],
    collect: CollectFn,
    store: StoreFn,
) -> ConsumerSpec:
    """The durable consumer of ``person.export.requested`` of ``service``."""
    handler: Handler = exactly_once(
        sessions, f"{service}-export", export_effect(service, collect, store)
    )
    return ConsumerSpec(
        durable=f"{service}-export",
        subjects=[f"socle.*.{PERSON_EXPORT_REQUESTED}"],
        handler=handler,
        ordered=False,  # one event per export, each part stands alone
    )
