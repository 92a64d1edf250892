"""Erasure of a person across services: identity publishes ``user.deleted``; every service
applies its own rule once (through its inbox) and answers ``person.erased`` with what it
erased and what it kept and why. The answer names categories and counts, never personal
data; its ``erasure_id`` is the id of the ``user.deleted`` event."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.bus import ConsumerSpec, Handler
from socle.events import CloudEvent
from socle.inbox import exactly_once
from socle.outbox import record_event

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
