"""Use cases of requests: a person's instance of a procedure, from draft to decision.

Each use case runs in one transaction (the caller's ``session.begin()``), checks who may
act (a citizen reaches only their own requests: 404 otherwise), records the history and the
``procedure.request.<state>`` event through the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from socle import clock
from socle.auth import Principal
from socle.db import for_update
from socle.outbox import record_event
from socle.pagination import decode_position, encode_position
from socle.problems import Forbidden
from socle.web.i18n import localized
from socle_procedures import catalog
from socle_procedures.definitions import fees
from socle_procedures.definitions.answers import AnswerError, check_step
from socle_procedures.definitions.conditions import relevant_answers, visible_steps
from socle_procedures.errors import (
    FeeNotPaid,
    IllegalTransition,
    Incomplete,
    InvalidAnswers,
    NotEditable,
    RequestNotFound,
)
from socle_procedures.events import Site, request_event
from socle_procedures.messages import message
from socle_procedures.models import (
    Mandate,
    ProcedureVersion,
    ReferenceCounter,
    Request,
    RequestHistory,
)

STATES = (
    "draft",
    "submitted",
    "in_review",
    "information_requested",
    "approved",
    "rejected",
    "withdrawn",
)
EDITABLE = frozenset({"draft", "information_requested"})
OWNER, STAFF = "owner", "staff"

#: (from, to) -> who may make the move: the person who owns the request, or the commune.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("draft", "submitted"): OWNER,
    ("draft", "withdrawn"): OWNER,
    ("submitted", "withdrawn"): OWNER,
    ("submitted", "in_review"): STAFF,
    ("in_review", "information_requested"): STAFF,
    ("in_review", "approved"): STAFF,
    ("in_review", "rejected"): STAFF,
    ("information_requested", "in_review"): OWNER,
    ("information_requested", "withdrawn"): OWNER,
}

CLAIM_PREFILL: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "given_name": lambda c: c.get("given_name"),
    "family_name": lambda c: c.get("family_name"),
    "name": lambda c: (
        c.get("name")
        or " ".join(p for p in (c.get("given_name"), c.get("family_name")) if p)
        or None
    ),
    "email": lambda c: c.get("email"),
    "phone_number": lambda c: c.get("phone_number"),
    "address": lambda c: (
        {
            "street": (c.get("address") or {}).get("street_address", ""),
            "number": "",
            "postal_code": (c.get("address") or {}).get("postal_code", ""),
            "locality": (c.get("address") or {}).get("locality", ""),
        }
        if c.get("address")
        else None
    ),
}


@dataclass
class Loaded:
    request: Request
    definition: dict[str, Any]
    for_citizen: bool = False
    """Reached by a mediator under a live mandate: the mediator acts as its owner would."""


def _mandated(principal: Principal) -> Any:
    """Ids of the requests this caller files under a live mandate (a revoked one: none)."""
    return select(Mandate.request_id).where(
        Mandate.tenant == principal.tenant,
        Mandate.mediator == principal.subject,
        Mandate.status == "live",
    )


def api_errors(errors: list[AnswerError], definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Answer errors as problem+json ``errors`` (in English), each with its JSON pointer."""
    labels = {f["id"]: f["label"] for s in definition["steps"] for f in s["fields"]}
    return [
        {
            "pointer": f"/answers/{e.field}",
            "field": e.field,
            "code": e.code,
            "message": message(e, localized(labels.get(e.field), "en") or e.field, "en"),
        }
        for e in errors
    ]


async def load(
    session: AsyncSession, principal: Principal, request_id: str, *, lock: bool = False
) -> Loaded:
    """The request if this caller may reach it (its owner, or the commune); 404 otherwise."""
    query = select(Request, ProcedureVersion.document).join(
        ProcedureVersion, ProcedureVersion.id == Request.version_id
    )
    query = query.where(Request.id == request_id, Request.tenant == principal.tenant)
    if principal.owner is not None:
        query = query.where(
            or_(Request.owner == principal.owner, Request.id.in_(_mandated(principal)))
        )
    if lock:
        query = for_update(query, of=Request)
    row = (await session.execute(query)).first()
    if row is None:
        raise RequestNotFound(f"No request {request_id} you can see.")
    mediated = principal.owner is not None and row[0].owner != principal.owner
    return Loaded(row[0], row[1], for_citizen=mediated)


async def _transition(
    session: AsyncSession,
    loaded: Loaded,
    to: str,
    actor: str,
    note: str | None = None,
    *,
    previous: str | None = None,
    site: Site | None = None,
) -> None:
    request = loaded.request
    request.state = to
    request.updated_at = clock.now()
    session.add(
        RequestHistory(
            request_id=request.id,
            tenant=request.tenant,
            from_state=previous,
            to_state=to,
            actor=actor,
            note=note,
            at=request.updated_at,
        )
    )
    templates = [
        n["template"] for n in loaded.definition.get("notifications", []) if n["state"] == to
    ]
    event = request_event(
        request,
        previous=previous,
        actor=actor,
        note=note,
        templates=templates,
        title=loaded.definition.get("title"),
        site=site,
    )
    await record_event(session, event, aggregate=f"request:{request.id}")


def _prefill(definition: Mapping[str, Any], claims: Mapping[str, Any]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for step in definition["steps"]:
        for field in step["fields"]:
            source = field.get("prefill")
            value = CLAIM_PREFILL[source](claims) if source else None
            if value:
                answers[field["id"]] = value
    return answers


async def create(
    session: AsyncSession,
    principal: Principal,
    slug: str,
    *,
    locale: str,
    claims: Mapping[str, Any] | None = None,
    site: Site | None = None,
) -> Loaded:
    """A new draft on the procedure's published version, prefilled from what identity knows."""
    version = await catalog.current(session, principal.tenant, slug)
    known = dict(principal.claims) | dict(claims or {})
    now = clock.now()
    request = Request(
        id=uuid.uuid4().hex,
        tenant=principal.tenant,
        owner=principal.subject,
        version_id=version.id,
        procedure=version.slug,
        version=version.version,
        state="draft",
        answers=_prefill(version.document, known),
        completed_steps=[],
        locale=locale,
        email=known.get("email") if isinstance(known.get("email"), str) else None,
        fee_amount=0,
        fee_currency=fees.currency(version.document.get("fee")),
        payment_attempts=0,
        amount_paid=0,
        created_at=now,
        updated_at=now,
    )
    request.fee_amount = fees.amount(version.document.get("fee"), {})
    session.add(request)
    await session.flush()
    loaded = Loaded(request, version.document)
    await _transition(session, loaded, "draft", principal.subject, site=site)
    return loaded


def _require_owner(principal: Principal, loaded: Loaded) -> None:
    if principal.subject != loaded.request.owner and not loaded.for_citizen:
        raise Forbidden(
            "Only the person who started this request may do this.", code="not-the-owner"
        )


def step_of(
    definition: Mapping[str, Any], answers: Mapping[str, Any], step_id: str
) -> dict[str, Any]:
    for step in visible_steps(definition, answers):
        if step["id"] == step_id:
            return step
    raise RequestNotFound(f"The request has no step {step_id!r} to answer now.")


async def save_step(
    session: AsyncSession,
    principal: Principal,
    request_id: str,
    step_id: str,
    raw: Mapping[str, Any],
    *,
    today: date | None = None,
) -> Loaded:
    """Check and save the answers of one step (the draft is kept at every step)."""
    loaded = await load(session, principal, request_id, lock=True)
    request, definition = loaded.request, loaded.definition
    _require_owner(principal, loaded)
    if request.state not in EDITABLE:
        raise NotEditable(f"A {request.state} request cannot be changed.")
    step = step_of(definition, request.answers, step_id)
    values, errors = check_step(step, raw, request.answers, today or clock.now().date())
    if errors:
        raise InvalidAnswers(
            f"{len(errors)} answer(s) of step {step_id!r} are not valid; nothing was saved.",
            errors=api_errors(errors, definition),
        )
    _only_reopened(request, values, step)
    answers = {
        k: v for k, v in request.answers.items() if k not in {f["id"] for f in step["fields"]}
    }
    answers = relevant_answers(definition, answers | values)
    fee = fees.amount(definition.get("fee"), answers)
    if request.payment_status == "succeeded" and fee != request.fee_amount:
        raise NotEditable(
            "The fee is paid: an answer that changes the fee cannot be changed any more."
        )
    request.answers = answers
    shown = {s["id"] for s in visible_steps(definition, answers)}
    request.completed_steps = [
        s for s in [*request.completed_steps, step_id] if s in shown and s != step_id
    ] + [step_id]
    request.fee_amount = fee
    request.updated_at = clock.now()
    return loaded


def _only_reopened(request: Request, values: Mapping[str, Any], step: Mapping[str, Any]) -> None:
    """While information is requested, only the fields the agent reopened may change."""
    if request.state != "information_requested" or request.editable_fields is None:
        return
    changed = [
        f["id"]
        for f in step["fields"]
        if f["id"] not in request.editable_fields
        and values.get(f["id"]) != request.answers.get(f["id"])
    ]
    if changed:
        raise NotEditable(
            "Only the fields the commune asked about may change: "
            + ", ".join(request.editable_fields)
            + "."
        )


def missing_steps(loaded: Loaded, today: date) -> list[dict[str, Any]]:
    """Steps still to answer (or whose saved answers no longer hold), in order."""
    request, definition = loaded.request, loaded.definition
    out = []
    for step in visible_steps(definition, request.answers):
        _, errors = check_step(step, request.answers, request.answers, today)
        if errors or step["id"] not in request.completed_steps:
            out.append(step)
    return out


def fee_settled(request: Request, definition: Mapping[str, Any]) -> bool:
    """Paid in full, or (QR-bill) the bill is issued: it is paid by bank transfer later."""
    if request.fee_amount <= 0:
        return True
    if request.payment_status == "succeeded" and request.amount_paid >= request.fee_amount:
        return True
    return request.payment_provider == "qrbill" and request.payment_status == "pending"


async def _next_reference(session: AsyncSession, tenant: str, at: datetime) -> str:
    query = select(ReferenceCounter).where(
        ReferenceCounter.tenant == tenant, ReferenceCounter.year == at.year
    )
    counter = (await session.execute(for_update(query))).scalar_one_or_none()
    if counter is None:
        counter = ReferenceCounter(tenant=tenant, year=at.year, last=0)
        session.add(counter)
    counter.last += 1
    await session.flush()
    return f"{tenant.upper()[:8]}-{at.year}-{counter.last:06d}"


async def submit(
    session: AsyncSession,
    principal: Principal,
    request_id: str,
    *,
    today: date | None = None,
    site: Site | None = None,
    locale: str | None = None,
) -> Loaded:
    """Freeze the request and give it its human reference; refused incomplete or unpaid.
    ``locale``: the language the citizen submits in (their receipt's), when known."""
    loaded = await load(session, principal, request_id, lock=True)
    request = loaded.request
    _require_owner(principal, loaded)
    if request.state not in EDITABLE:
        raise IllegalTransition(f"A {request.state} request cannot be submitted.")
    missing = missing_steps(loaded, today or clock.now().date())
    if missing:
        raise Incomplete(
            "Some steps are not answered yet: " + ", ".join(s["id"] for s in missing) + ".",
            errors=[
                {"pointer": f"/steps/{s['id']}", "code": "step-incomplete", "message": s["id"]}
                for s in missing
            ],
        )
    if not fee_settled(request, loaded.definition):
        raise FeeNotPaid("The fee of this request is not paid yet.")
    if request.state == "information_requested":
        # The citizen answered the commune's request for information: back to review.
        request.editable_fields = None
        await _transition(
            session, loaded, "in_review", principal.subject, previous=request.state, site=site
        )
        return loaded
    now = clock.now()
    if locale:
        request.locale = locale
    request.reference = await _next_reference(session, request.tenant, now)
    request.submitted_at = now
    await _transition(session, loaded, "submitted", principal.subject, previous="draft", site=site)
    return loaded


async def move(
    session: AsyncSession,
    principal: Principal,
    request_id: str,
    to: str,
    note: str | None,
    *,
    site: Site | None = None,
) -> Loaded:
    """Any other change of state: withdraw, answer a request for information (the owner);
    review, ask for information, approve, reject (the commune)."""
    loaded = await load(session, principal, request_id, lock=True)
    request = loaded.request
    who = TRANSITIONS.get((request.state, to))
    if to == "submitted" and request.state == "draft":
        return await submit(session, principal, request_id, site=site)
    if who is None:
        raise IllegalTransition(f"A {request.state} request cannot become {to}.")
    if who == OWNER:
        _require_owner(principal, loaded)
    elif not principal.commune_wide:
        raise Forbidden("Only the commune's staff may do this.", code="staff-only")
    if request.state == "information_requested":
        request.editable_fields = None
    await _transition(
        session, loaded, to, principal.subject, note, previous=request.state, site=site
    )
    return loaded


async def history(session: AsyncSession, request_id: str) -> list[RequestHistory]:
    query = (
        select(RequestHistory)
        .where(RequestHistory.request_id == request_id)
        .order_by(RequestHistory.id)
    )
    return list((await session.execute(query)).scalars())


async def listing(
    session: AsyncSession,
    principal: Principal,
    *,
    state: str | None = None,
    procedure: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Request], str | None]:
    """Newest first: a citizen's own requests, or every request of the commune."""
    query = select(Request).where(Request.tenant == principal.tenant)
    if principal.owner is not None:
        query = query.where(
            or_(Request.owner == principal.owner, Request.id.in_(_mandated(principal)))
        )
    if state:
        query = query.where(Request.state == state)
    if procedure:
        query = query.where(Request.procedure == procedure)
    if cursor:
        at, last_id = decode_position(cursor)
        query = query.where(
            or_(Request.created_at < at, and_(Request.created_at == at, Request.id < last_id))
        )
    query = query.order_by(Request.created_at.desc(), Request.id.desc()).limit(limit + 1)
    rows = list((await session.execute(query)).scalars())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_position(rows[-1].created_at, rows[-1].id)
    return rows, next_cursor
