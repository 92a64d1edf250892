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

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.bus import ConsumerSpec, Handler
from socle.events import CloudEvent
from socle.inbox import exactly_once
from socle.outbox import record_event


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


class Kept(BaseModel):
    """Data of the person a service keeps, and why."""

    category: str = Field(description="What is kept, e.g. ``documents`` or ``payments``.")
    count: int = Field(ge=0)
    reason: str = Field(
        description="``legal_hold``, ``retention`` (kept until ``until``, then erased), "
        "``legal_retention`` (kept, pseudonymised) or ``audit``."
    )
    until: datetime | None = Field(
        default=None, description="When it will be erased; none when no end is known yet."
    )
    detail: str = Field(default="", description="The rule in a sentence.")


class ErasureOutcome(BaseModel):
    """What one service did for one erasure (the data of ``person.erased``)."""

    erasure_id: str = Field(description="The id of the ``user.deleted`` event answered.")
    service: str
    erased: dict[str, int] = Field(
        default_factory=dict, description="Per category, how many records were erased."
    )
    pseudonymised: dict[str, int] = Field(
        default_factory=dict,
        description="Per category, how many records were kept with the person's data "
        "replaced by a pseudonym.",
    )
    kept: list[Kept] = Field(default_factory=list)


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


def person_erased(*, tenant: str, outcome: ErasureOutcome) -> CloudEvent:
    return CloudEvent.new(
        service=outcome.service,
        type=PERSON_ERASED,
        tenant=tenant,
        subject=f"erasure:{outcome.erasure_id}",
        data=outcome.model_dump(mode="json"),
    )


def erasure_effect(
    service: str, erase: EraseFn
) -> Callable[[AsyncSession, CloudEvent], Awaitable[None]]:
    """Run ``erase`` for a ``user.deleted`` event and record ``person.erased`` in the same
    transaction (the inbox's)."""

    async def effect(session: AsyncSession, event: CloudEvent) -> None:
        user_id = str(event.data.get("user_id") or "")
        if event.type != USER_DELETED or not user_id:
            return
        request = ErasureRequest(erasure_id=event.id, tenant=event.tenant, user_id=user_id)
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
        durable=f"{service}-erasure", subjects=[f"socle.*.{USER_DELETED}"], handler=handler
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


class ExportPart(BaseModel):
    """One service's answer to an export (the data of ``person.export.ready``): where its
    part lies and how many records of each category it holds; no personal data."""

    export_id: str = Field(description="The id of the ``person.export.requested`` event.")
    service: str
    object: str = Field(description="Where the part lies (a key in the export store).")
    counts: dict[str, int] = Field(default_factory=dict)


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


def person_export_ready(*, tenant: str, part: ExportPart) -> CloudEvent:
    return CloudEvent.new(
        service=part.service,
        type=PERSON_EXPORT_READY,
        tenant=tenant,
        subject=f"export:{part.export_id}",
        data=part.model_dump(mode="json"),
    )


def export_effect(
    service: str, collect: CollectFn, store: StoreFn
) -> Callable[[AsyncSession, CloudEvent], Awaitable[None]]:
    """Collect the person's data for a ``person.export.requested`` event, write it to the
    export store (the same key each time: a retry overwrites) and record
    ``person.export.ready`` in the inbox's transaction."""

    async def effect(session: AsyncSession, event: CloudEvent) -> None:
        user_id = str(event.data.get("user_id") or "")
        if event.type != PERSON_EXPORT_REQUESTED or not user_id:
            return
        request = ExportRequest(export_id=event.id, tenant=event.tenant, user_id=user_id)
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
    )
