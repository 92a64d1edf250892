"""Use cases of the commune's staff on a request: take or assign it, review it, ask the
citizen for information, approve, reject, reopen; internal notes.

Every action locks the request, checks that it is allowed in the current state (and, when the
caller says which state it saw, that nobody acted in between: one of two agents acting at once
wins, the other gets 409 naming the actions allowed now), and appends to the history who did
what, when, with the values before and after. The history is never edited or deleted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from socle import clock
from socle.auth import Principal
from socle.outbox import record_event
from socle.problems import Forbidden
from socle.web.i18n import localized
from socle_procedures.decisions import Decide
from socle_procedures.errors import (
    ActionNotAllowed,
    InvalidAction,
    RequestNotFound,
)
from socle_procedures.events import Site, request_event
from socle_procedures.models import RequestHistory, RequestNote
from socle_procedures.requests import Loaded, load

#: action -> (states it is allowed in, the state it leads to, or None: the state stays).
ACTIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "take": (frozenset({"submitted", "in_review", "information_requested"}), None),
    "assign": (frozenset({"submitted", "in_review", "information_requested"}), None),
    "in_review": (frozenset({"submitted"}), "in_review"),
    "request_information": (frozenset({"in_review"}), "information_requested"),
    "approve": (frozenset({"in_review"}), "approved"),
    "reject": (frozenset({"in_review"}), "rejected"),
    "reopen": (frozenset({"approved", "rejected"}), "in_review"),
}


@dataclass
class Action:
    """What an agent asks: the action, a comment, and what some actions need."""

    name: str
    comment: str | None = None
    assignee: str | None = None
    fields: list[str] = field(default_factory=list)
    expected_state: str | None = None


def allowed_actions(state: str) -> list[str]:
    return [name for name, (states, _) in ACTIONS.items() if state in states]


def require_staff(principal: Principal) -> None:
    if not principal.commune_wide:
        raise Forbidden("Only the commune's staff may do this.", code="staff-only")


async def load_for_staff(
    session: AsyncSession, principal: Principal, request_id: str, *, lock: bool = False
) -> Loaded:
    """The request of the caller's commune (404 for another commune's), staff only."""
    loaded = await load(session, principal, request_id, lock=lock)
    require_staff(principal)
    if loaded.request.state == "draft":
        # A draft is the citizen's own business until it is submitted.
        raise RequestNotFound(f"No request {request_id} you can see.")
    return loaded


def field_labels(definition: dict[str, Any], locale: str) -> dict[str, str]:
    return {
        f["id"]: localized(f["label"], locale) or f["id"]
        for s in definition["steps"]
        for f in s["fields"]
    }


def _check(action: Action, loaded: Loaded) -> None:
    if action.name not in ACTIONS:
        raise InvalidAction(f"No action {action.name!r}; one of {', '.join(ACTIONS)}.")
    state = loaded.request.state
    if action.expected_state is not None and action.expected_state != state:
        raise ActionNotAllowed(
            f"The request became {state} meanwhile (you saw it {action.expected_state}).",
            allowed_actions(state),
        )
    if state not in ACTIONS[action.name][0]:
        raise ActionNotAllowed(
            f"A {state} request cannot be handled with {action.name}.", allowed_actions(state)
        )
    if action.name == "reject" and not (action.comment or "").strip():
        raise InvalidAction(
            "A rejection needs its reason.",
            errors=[{"pointer": "/comment", "code": "required", "message": "reason required"}],
        )
    if action.name == "assign" and not (action.assignee or "").strip():
        raise InvalidAction(
            "Say to whom.",
            errors=[{"pointer": "/assignee", "code": "required", "message": "assignee required"}],
        )
    if action.name == "request_information":
        known = field_labels(loaded.definition, "en")
        unknown = [f for f in action.fields if f not in known]
        if not action.fields or unknown or not (action.comment or "").strip():
            raise InvalidAction(
                "A request for information names the fields to correct (of this procedure) "
                "and says why in its message.",
                errors=[{"pointer": "/fields", "code": "invalid", "message": ", ".join(unknown)}],
            )


async def act(
    session: AsyncSession,
    principal: Principal,
    request_id: str,
    action: Action,
    *,
    site: Site | None = None,
    decide: Decide | None = None,
) -> Loaded:
    """Apply one back-office action to the request (see the module's docstring); an approval
    with ``decide`` stores its decision document first and names it in the history."""
    loaded = await load_for_staff(session, principal, request_id, lock=True)
    _check(action, loaded)
    request = loaded.request
    before_state = request.state
    changes: dict[str, Any] = {}
    if action.name in ("take", "assign"):
        who = principal.subject if action.name == "take" else str(action.assignee).strip()
        changes["assigned_to"] = {"before": request.assigned_to, "after": who}
        request.assigned_to = who
    if action.name == "request_information":
        changes["editable_fields"] = {"before": request.editable_fields, "after": action.fields}
        request.editable_fields = list(action.fields)
    if action.name in ("approve", "reject", "reopen") and request.editable_fields:
        changes["editable_fields"] = {"before": request.editable_fields, "after": None}
        request.editable_fields = None
    if action.name == "approve" and decide is not None:
        document = await decide(loaded, action.comment)
        changes["decision_document"] = {"before": None, "after": document}
    to = ACTIONS[action.name][1] or before_state
    if to != before_state:
        changes["state"] = {"before": before_state, "after": to}
        request.state = to
    request.updated_at = clock.now()
    session.add(
        RequestHistory(
            request_id=request.id,
            tenant=request.tenant,
            from_state=before_state,
            to_state=to,
            actor=principal.subject,
            note=action.comment,
            at=request.updated_at,
            action=action.name,
            changes=changes,
        )
    )
    if to != before_state:
        await _announce(session, loaded, before_state, principal.subject, action, site, changes)
    return loaded


async def _announce(
    session: AsyncSession,
    loaded: Loaded,
    previous: str,
    actor: str,
    action: Action,
    site: Site | None,
    changes: dict[str, Any],
) -> None:
    """The ``procedure.request.<state>`` event, in the citizen's language: notify mails it."""
    request = loaded.request
    templates = [
        n["template"]
        for n in loaded.definition.get("notifications", [])
        if n["state"] == request.state
    ]
    more: dict[str, Any] = {"action": action.name}
    if "decision_document" in changes:
        more["decision_document_id"] = changes["decision_document"]["after"]
    if action.name == "request_information":
        labels = field_labels(loaded.definition, request.locale)
        more["message"] = action.comment
        more["fields"] = [{"id": f, "label": labels[f]} for f in action.fields]
        more["fields_display"] = ", ".join(labels[f] for f in action.fields)
    event = request_event(
        request,
        previous=previous,
        actor=actor,
        note=action.comment,
        templates=templates,
        title=loaded.definition.get("title"),
        site=site,
        **more,
    )
    await record_event(session, event, aggregate=f"request:{request.id}")


async def add_note(
    session: AsyncSession, principal: Principal, request_id: str, text: str
) -> RequestNote:
    loaded = await load_for_staff(session, principal, request_id)
    if not text.strip():
        raise InvalidAction(
            "A note needs its text.",
            errors=[{"pointer": "/text", "code": "required", "message": "text required"}],
        )
    note = RequestNote(
        request_id=loaded.request.id,
        tenant=loaded.request.tenant,
        author=principal.subject,
        text=text.strip(),
        at=clock.now(),
    )
    session.add(note)
    await session.flush()
    return note


async def notes(session: AsyncSession, principal: Principal, request_id: str) -> list[RequestNote]:
    loaded = await load_for_staff(session, principal, request_id)
    query = (
        select(RequestNote)
        .where(RequestNote.request_id == loaded.request.id)
        .order_by(RequestNote.id)
    )
    return list((await session.execute(query)).scalars())


async def information_asked(session: AsyncSession, loaded: Loaded, locale: str) -> str | None:
    """While information is requested: the agent's message and the fields to correct, as
    the citizen reads them (never an internal note)."""
    request = loaded.request
    if request.state != "information_requested":
        return None
    query = (
        select(RequestHistory.note)
        .where(
            RequestHistory.request_id == request.id,
            RequestHistory.action == "request_information",
        )
        .order_by(RequestHistory.id.desc())
        .limit(1)
    )
    note = (await session.execute(query)).scalar_one_or_none()
    labels = field_labels(loaded.definition, locale)
    fields = ", ".join(labels.get(f, f) for f in request.editable_fields or [])
    return " ".join(p for p in (note, f"({fields})" if fields else "") if p) or None
