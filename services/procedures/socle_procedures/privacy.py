"""Erasure of a person in procedures (``user.deleted``).

A request of the person is anonymised: its answers, e-mail address and pending payment link
are removed, its owner becomes a pseudonym, and the notes of its history are removed (the
history's states and times stay). A submitted request of a procedure that declares
``retention_days`` is the commune's record until that many days after its submission: it is
kept as it is, marked (``erasure_requested_at``), and anonymised by the sweep when the period
ends. A request under legal hold is kept the same way and anonymised by the sweep once the
hold is lifted. The person's portal sessions are deleted."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle import clock
from socle.bus import ConsumerSpec
from socle.legal_hold import held_ids, kept_under_hold, not_held
from socle.privacy import (
    ErasureOutcome,
    ErasureRequest,
    ExportRequest,
    Kept,
    PersonData,
    as_json,
    erasure_consumer,
    new_pseudonym,
)
from socle_procedures.models import (
    Mandate,
    PortalSession,
    ProcedureVersion,
    Request,
    RequestHistory,
    RequestNote,
    legal_holds,
)

log = structlog.get_logger("socle_procedures.privacy")

SERVICE = "procedures"
CATEGORY = "requests"


def _kept_until(request: Request, document: dict[str, object]) -> datetime | None:
    """When the commune's retention of this request ends, if it keeps it at all."""
    days = document.get("retention_days")
    if request.submitted_at is None or not isinstance(days, int) or days <= 0:
        return None
    return request.submitted_at + timedelta(days=days)


async def anonymise(session: AsyncSession, request: Request, pseudonym: str, now: datetime) -> None:
    await session.execute(
        update(RequestHistory)
        .where(RequestHistory.request_id == request.id, RequestHistory.actor == request.owner)
        .values(actor=pseudonym)
    )
    await session.execute(
        update(RequestHistory).where(RequestHistory.request_id == request.id).values(note=None)
    )
    # Staff notes and the mandate's names are about the person too.
    await session.execute(
        update(RequestNote).where(RequestNote.request_id == request.id).values(text="")
    )
    await session.execute(
        update(Mandate)
        .where(Mandate.request_id == request.id)
        .values(citizen_name="", citizen_email="", citizen=pseudonym)
    )
    request.owner = pseudonym
    request.answers = {}
    request.email = None
    request.payment_next_url = None
    request.erasure_requested_at = None
    request.updated_at = now


async def erase_person(session: AsyncSession, request: ErasureRequest) -> ErasureOutcome:
    now = clock.now()
    rows = (
        await session.execute(
            select(Request, ProcedureVersion.document)
            .join(ProcedureVersion, ProcedureVersion.id == Request.version_id)
            .where(Request.tenant == request.tenant, Request.owner == request.user_id)
            .with_for_update(of=Request)
        )
    ).all()
    held = await held_ids(
        session, legal_holds, CATEGORY, request.tenant, [row.id for row, _ in rows]
    )
    pseudonym = new_pseudonym()
    anonymised = kept = 0
    latest: datetime | None = None
    for row, document in rows:
        if row.id in held:
            row.erasure_requested_at = now  # left as it is until the hold is lifted
            continue
        until = _kept_until(row, document)
        if until is not None and until > now:
            row.erasure_requested_at = now
            kept += 1
            latest = max(latest or until, until)
            continue
        await anonymise(session, row, pseudonym, now)
        anonymised += 1
    sessions = await session.execute(
        delete(PortalSession).where(
            PortalSession.tenant == request.tenant, PortalSession.subject == request.user_id
        )
    )
    reasons = []
    if kept:
        reasons.append(
            Kept(
                category=CATEGORY,
                count=kept,
                reason="retention",
                until=latest,
                detail="Submitted requests of procedures with a retention period stay the "
                "commune's record until it ends, then are anonymised.",
            )
        )
    reasons += kept_under_hold(
        CATEGORY,
        len(held),
        "Requests under legal hold are kept as they are; they are anonymised once the hold is "
        "lifted (and their retention, if any, has ended).",
    )
    return ErasureOutcome(
        erasure_id=request.erasure_id,
        service=SERVICE,
        erased={"portal_sessions": int(sessions.rowcount)},  # type: ignore[attr-defined]
        pseudonymised={CATEGORY: anonymised},
        kept=reasons,
    )


async def anonymise_due(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Anonymise the requests of erased persons whose retention has ended and that are
    under no legal hold."""
    now = clock.now()
    done = 0
    async with sessions() as session, session.begin():
        rows = (
            await session.execute(
                select(Request, ProcedureVersion.document)
                .join(ProcedureVersion, ProcedureVersion.id == Request.version_id)
                .where(
                    Request.erasure_requested_at.is_not(None),
                    not_held(legal_holds, CATEGORY, Request.tenant, Request.id),
                )
                .with_for_update(of=Request, skip_locked=True)
                .limit(200)
            )
        ).all()
        for row, document in rows:
            until = _kept_until(row, document)
            if until is None or until <= now:
                await anonymise(session, row, new_pseudonym(), now)
                done += 1
    if done:
        log.info("requests_anonymised", count=done)
    return done


def consumer(sessions: async_sessionmaker[AsyncSession]) -> ConsumerSpec:
    return erasure_consumer(SERVICE, sessions, erase_person)


REQUEST_FIELDS = (
    "id",
    "procedure",
    "version",
    "state",
    "answers",
    "completed_steps",
    "reference",
    "locale",
    "email",
    "fee_amount",
    "fee_currency",
    "payment_id",
    "payment_status",
    "amount_paid",
    "created_at",
    "updated_at",
    "submitted_at",
)
HISTORY_FIELDS = ("request_id", "from_state", "to_state", "action", "at")


async def export_person(session: AsyncSession, request: ExportRequest) -> PersonData:
    """The person's requests and their history (states and times; staff's internal notes
    and who on staff acted are left out)."""
    requests = list(
        (
            await session.execute(
                select(Request)
                .where(Request.tenant == request.tenant, Request.owner == request.user_id)
                .order_by(Request.created_at)
            )
        ).scalars()
    )
    history = (
        await session.execute(
            select(RequestHistory)
            .where(RequestHistory.request_id.in_([r.id for r in requests]))
            .order_by(RequestHistory.id)
        )
    ).scalars()
    return {
        "requests": [as_json(r, REQUEST_FIELDS) for r in requests],
        "request_history": [as_json(h, HISTORY_FIELDS) for h in history],
    }
