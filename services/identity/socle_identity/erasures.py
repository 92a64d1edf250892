"""Erasure reports: an erased account asks every service to erase the person's data
(``user.deleted``); each answers ``person.erased``; the report completes when all answered
and names those still silent after ``erasure_answer_seconds``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import upsert_insert, utcnow
from socle.events import CloudEvent
from socle.privacy import PERSON_ERASED, ErasureOutcome, Kept
from socle_identity.answers import roll_call
from socle_identity.errors import UnknownErasure
from socle_identity.models import Erasure, ErasureAnswer


class ServiceAnswer(BaseModel):
    service: str
    status: Literal["answered", "waiting", "silent"] = Field(
        description="``silent``: no answer after the configured time."
    )
    answered_at: datetime | None = None
    erased: dict[str, int] = Field(default_factory=dict)
    pseudonymised: dict[str, int] = Field(default_factory=dict)
    kept: list[Kept] = Field(default_factory=list)


class ErasureReport(BaseModel):
    id: str = Field(description="The id of the ``user.deleted`` event.")
    user_id: str = Field(description="The erased account's id (no longer resolvable).")
    requested_at: datetime
    answer_deadline: datetime
    status: Literal["in_progress", "complete", "overdue"]
    silent: list[str] = Field(description="Services that have not answered in time.")
    services: list[ServiceAnswer]


async def record(
    session: AsyncSession, *, erasure_id: str, tenant: str, user_id: str, services: Sequence[str]
) -> None:
    session.add(
        Erasure(
            id=erasure_id,
            tenant=tenant,
            user_id=user_id,
            requested_at=utcnow(),
            services=list(dict.fromkeys(services)),
        )
    )
    await session.flush()


async def on_answer(session: AsyncSession, event: CloudEvent) -> None:
    """Keep a service's ``person.erased`` (the first one per service; unknown erasures, such
    as another identity's, are ignored)."""
    if event.type != PERSON_ERASED:
        return
    outcome = ErasureOutcome.of(event)
    erasure = await session.get(Erasure, outcome.erasure_id)
    if erasure is None or erasure.tenant != event.tenant:
        return
    await session.execute(
        upsert_insert(session, ErasureAnswer)
        .values(
            erasure_id=erasure.id,
            service=outcome.service,
            answered_at=utcnow(),
            outcome=outcome.model_dump(mode="json", exclude={"erasure_id", "service"}),
        )
        .on_conflict_do_nothing()
    )


async def report(
    session: AsyncSession, *, tenant: str, erasure_id: str, answer_seconds: int
) -> ErasureReport:
    erasure = await session.get(Erasure, erasure_id)
    if erasure is None or erasure.tenant != tenant:
        raise UnknownErasure(f"No erasure {erasure_id!r} in this tenant.")
    answers = {
        a.service: a
        for a in (
            await session.execute(
                select(ErasureAnswer).where(ErasureAnswer.erasure_id == erasure.id)
            )
        ).scalars()
    }
    call = roll_call(
        erasure.services,
        answers,
        requested_at=erasure.requested_at,
        answer_seconds=answer_seconds,
        answered=lambda name, answer: ServiceAnswer(
            service=name, status="answered", answered_at=answer.answered_at, **answer.outcome
        ),
        unanswered=lambda name, status: ServiceAnswer(service=name, status=status),
    )
    return ErasureReport(
        id=erasure.id,
        user_id=erasure.user_id,
        requested_at=erasure.requested_at,
        answer_deadline=call.deadline,
        status=call.status("complete"),
        silent=call.silent,
        services=call.services,
    )
