"""Exports (right of access): identity asks every service for its part of a person's data
(``person.export.requested``); each writes its part and answers ``person.export.ready``;
the export is ready when all answered, and names those still silent after
``export_answer_seconds``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import httpx
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.db import upsert_insert, utcnow
from socle.events import CloudEvent, Event
from socle.eventtypes.privacy import PersonExportRequested
from socle.export_parts import storage_parts
from socle.outbox import record_event
from socle.privacy import (
    PERSON_EXPORT_READY,
    ExportPart,
    ExportRequest,
    PersonData,
    as_json,
)
from socle_identity import directory
from socle_identity.answers import roll_call
from socle_identity.errors import (
    ArchiveUnavailable,
    ExportExpired,
    ExportNotReady,
    UnknownExport,
)
from socle_identity.models import Consent, Export, ExportAnswer, User
from socle_identity.settings import IdentitySettings

SERVICE = "identity"


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
    status: Literal["in_progress", "ready", "overdue", "expired"] = Field(
        description="``expired``: the link's time is over and the parts are deleted."
    )
    expires_at: datetime | None = Field(
        default=None, description="Until when the archive can be downloaded (once ready)."
    )
    silent: list[str] = Field(description="Services that have not answered in time.")
    services: list[PartStatus]


def export_requested(*, tenant: str, user_id: str) -> Event[PersonExportRequested]:
    return PersonExportRequested(user_id=user_id).event(tenant=tenant, subject=f"user:{user_id}")


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


async def on_part(session: AsyncSession, event: CloudEvent) -> Export | None:
    """Keep a service's ``person.export.ready`` (the first one per service; unknown exports,
    such as another identity's, are ignored); the export it belongs to."""
    if event.type != PERSON_EXPORT_READY:
        return None
    part = ExportPart.of(event)
    # Locked until the transaction ends: parts recorded at once (a consumer handles several
    # events at a time, replicas too) each wait for the previous one, so the last sees them
    # all and the person is told.
    export = await session.get(Export, part.export_id, with_for_update=True)
    if export is None or export.tenant != event.tenant:
        return None
    await session.execute(
        upsert_insert(session, ExportAnswer)
        .values(
            export_id=export.id,
            service=part.service,
            answered_at=utcnow(),
            object=part.object,
            counts=part.counts,
        )
        .on_conflict_do_nothing()
    )
    return export


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
    call = roll_call(
        export.services,
        answers,
        requested_at=export.requested_at,
        answer_seconds=answer_seconds,
        answered=lambda name, answer: PartStatus(
            service=name,
            status="answered",
            answered_at=answer.answered_at,
            object=answer.object,
            counts=answer.counts,
        ),
        unanswered=lambda name, status: PartStatus(service=name, status=status),
    )
    status: Literal["in_progress", "ready", "overdue", "expired"] = (
        "expired" if is_expired(export) else call.status("ready")
    )
    return ExportReport(
        id=export.id,
        user_id=export.user_id,
        requested_at=export.requested_at,
        answer_deadline=call.deadline,
        status=status,
        expires_at=export.expires_at,
        silent=call.silent,
        services=call.services,
    )


USER_FIELDS = (
    "id",
    "email",
    "given_name",
    "family_name",
    "locale",
    "roles",
    "email_verified",
    "totp_confirmed",
    "created_at",
)
CONSENT_FIELDS = ("client_id", "scopes", "granted_at")


async def export_person(session: AsyncSession, request: ExportRequest) -> PersonData:
    """Identity's part: the account (no secrets: no password hash, second-factor secret or
    recovery codes) and the consents given to the commune's applications."""
    user = await session.get(User, request.user_id)
    if user is None or user.tenant != request.tenant:
        return {"account": [], "consents": []}
    consents = (await session.execute(select(Consent).where(Consent.user_id == user.id))).scalars()
    return {
        "account": [as_json(user, USER_FIELDS)],
        "consents": [as_json(c, CONSENT_FIELDS) for c in consents],
    }


def is_expired(export: Export) -> bool:
    return export.expires_at is not None and utcnow() >= export.expires_at


async def ready_export(
    session: AsyncSession,
    *,
    tenant: str,
    export_id: str,
    answer_seconds: int,
    user_id: str | None = None,
) -> ExportReport:
    """The export, once every part is in (409 before; 410 once its link expired)."""
    state = await report(
        session,
        tenant=tenant,
        export_id=export_id,
        answer_seconds=answer_seconds,
        user_id=user_id,
    )
    if state.status == "expired":
        raise ExportExpired(
            "The link's time is over and the export was deleted; ask for a new one."
        )
    if state.status != "ready":
        raise ExportNotReady("Not every service has written its part yet; try again later.")
    return state


async def archive(
    sessions: async_sessionmaker[AsyncSession],
    settings: IdentitySettings,
    *,
    tenant: str,
    export_id: str,
    user_id: str | None = None,
) -> bytes:
    """The ZIP of a ready export's parts (from storage, with identity's own client)."""
    async with sessions() as session, session.begin():
        await ready_export(
            session,
            tenant=tenant,
            export_id=export_id,
            answer_seconds=settings.export_answer_seconds,
            user_id=user_id,
        )
    if not settings.writes_export_parts:
        raise ArchiveUnavailable("Exports are not set up here (SOCLE_EXPORT_STORAGE_URL).")
    try:
        return await storage_parts(settings, settings.issuer).archive(tenant, export_id)
    except httpx.HTTPError as exc:
        raise ArchiveUnavailable(
            "The document store cannot give the archive now; try again in a moment.",
            headers={"Retry-After": "10"},
        ) from exc
