"""Exports (right of access): identity asks every service for its part of a person's data
(``person.export.requested``); each writes its part and answers ``person.export.ready``;
the export is ready when all answered, and names those still silent after
``export_answer_seconds``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import utcnow
from socle.events import CloudEvent
from socle.outbox import record_event
from socle.privacy import PERSON_EXPORT_READY, PERSON_EXPORT_REQUESTED, ExportPart
from socle.problems import NotFound
from socle_identity import directory
from socle_identity.models import Export, ExportAnswer

SERVICE = "identity"


class UnknownExport(NotFound):
    code = "export-not-found"


class PartStatus(BaseModel):
    service: str
    status: Literal["answered", "waiting", "silent"] = Field(
        description="``silent``: no part after the configured time."
    )
    answered_at: datetime | None = None
    object: str | None = Field(default=None, description="Where the part lies.")
    counts: dict[str, int] = Field(default_factory=dict)


class ExportReport(BaseModel):
    id: str = Field(description="The id of the ``person.export.requested`` event.")
    user_id: str
    requested_at: datetime
    answer_deadline: datetime
    status: Literal["in_progress", "ready", "overdue"]
    silent: list[str] = Field(description="Services that have not answered in time.")
    services: list[PartStatus]


def export_requested(*, tenant: str, user_id: str) -> CloudEvent:
    return CloudEvent.new(
        service=SERVICE,
        type=PERSON_EXPORT_REQUESTED,
        tenant=tenant,
        subject=f"user:{user_id}",
        data={"user_id": user_id},
    )


async def request_export(
    session: AsyncSession, *, tenant: str, user_id: str, services: Sequence[str]
) -> str:
    """Ask every service for its part of a known person's data; the export's id. An unknown
    person answers 404 (``directory.get_user``)."""
    user = await directory.get_user(session, tenant=tenant, user_id=user_id)
    event = export_requested(tenant=tenant, user_id=user.id)
    session.add(
        Export(
            id=event.id,
            tenant=tenant,
            user_id=user.id,
            requested_at=utcnow(),
            services=list(dict.fromkeys(services)),
        )
    )
    await session.flush()
    await record_event(session, event, aggregate=f"export:{event.id}")
    return event.id


async def on_part(session: AsyncSession, event: CloudEvent) -> None:
    """Keep a service's ``person.export.ready`` (the first one per service; unknown exports,
    such as another identity's, are ignored)."""
    if event.type != PERSON_EXPORT_READY:
        return
    part = ExportPart.model_validate(event.data)
    export = await session.get(Export, part.export_id)
    if export is None or export.tenant != event.tenant:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(ExportAnswer)
        .values(
            export_id=export.id,
            service=part.service,
            answered_at=utcnow(),
            object=part.object,
            counts=part.counts,
        )
        .on_conflict_do_nothing()
    )


async def report(
    session: AsyncSession,
    *,
    tenant: str,
    export_id: str,
    answer_seconds: int,
    user_id: str | None = None,
) -> ExportReport:
    """The export's state; with ``user_id``, only that person's own export (another's is
    unknown: 404)."""
    export = await session.get(Export, export_id)
    if (
        export is None
        or export.tenant != tenant
        or (user_id is not None and export.user_id != user_id)
    ):
        raise UnknownExport(f"No export {export_id!r} in this tenant.")
    answers = {
        a.service: a
        for a in (
            await session.execute(select(ExportAnswer).where(ExportAnswer.export_id == export.id))
        ).scalars()
    }
    deadline = export.requested_at + timedelta(seconds=answer_seconds)
    late = utcnow() >= deadline
    services = []
    for name in export.services:
        answer = answers.get(name)
        if answer is None:
            services.append(PartStatus(service=name, status="silent" if late else "waiting"))
        else:
            services.append(
                PartStatus(
                    service=name,
                    status="answered",
                    answered_at=answer.answered_at,
                    object=answer.object,
                    counts=answer.counts,
                )
            )
    waiting = [s.service for s in services if s.status != "answered"]
    return ExportReport(
        id=export.id,
        user_id=export.user_id,
        requested_at=export.requested_at,
        answer_deadline=deadline,
        status="ready" if not waiting else ("overdue" if late else "in_progress"),
        silent=waiting if late else [],
        services=services,
    )
