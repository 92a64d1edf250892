"""``/v1/requests/{id}/actions`` and ``/notes``: what the commune's back-office does with a
request (scope ``procedures:write`` or ``procedures:read``; staff or a client for itself)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from socle import clock
from socle.auth import bearer_token
from socle.openapi import problem_responses
from socle_procedures import review, use_cases
from socle_procedures.api.deps import ContextDep, Reader, Writer
from socle_procedures.api.responses import request_out
from socle_procedures.models import RequestNote
from socle_procedures.schemas import RequestOut, State

router = APIRouter(prefix="/v1/requests", tags=["back-office"])

RequestId = Annotated[str, Path(max_length=64, description="The request's id.")]


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal[
        "take", "assign", "in_review", "request_information", "approve", "reject", "reopen"
    ]
    comment: str | None = Field(
        default=None,
        max_length=2000,
        description="Why; required for reject (the reason) and request_information (the "
        "message to the citizen).",
    )
    assignee: str | None = Field(default=None, max_length=255, description="For assign.")
    fields: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list,
        max_length=50,
        description="For request_information: the field ids the citizen may correct.",
    )
    expected_state: State | None = Field(
        default=None,
        description="The state the caller saw; if it changed meanwhile, 409 (nothing done).",
    )


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000)


class NoteOut(BaseModel):
    id: int
    author: str
    text: str
    at: datetime


def note_out(note: RequestNote) -> NoteOut:
    return NoteOut(id=note.id, author=note.author, text=note.text, at=note.at)


class NoteList(BaseModel):
    items: list[NoteOut]


@router.post(
    "/{request_id}/actions",
    response_model=RequestOut,
    summary="A back-office action: take, assign, in_review, request_information, approve, "
    "reject, reopen (409 names the actions allowed now)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def act(
    principal: Writer,
    request_id: RequestId,
    body: ActionIn,
    ctx: ContextDep,
    http: Request,
) -> RequestOut:
    """An approval stores its decision PDF in storage with the caller's token (it needs
    ``documents:write`` for storage); storage refusing or down: nothing is approved."""
    action = review.Action(
        name=body.action,
        comment=body.comment,
        assignee=body.assignee,
        fields=body.fields,
        expected_state=body.expected_state,
    )
    loaded, history = await use_cases.act(
        ctx.sessions,
        principal,
        request_id,
        action,
        storage=ctx.storage,
        token=bearer_token(http),
        site=ctx.site,
        on=clock.now(),
    )
    return request_out(loaded.request, history)


@router.get(
    "/{request_id}/notes",
    response_model=NoteList,
    summary="The staff's internal notes on a request (never shown to its citizen)",
    responses=problem_responses(401, 403, 404),
)
async def list_notes(principal: Reader, ctx: ContextDep, request_id: RequestId) -> NoteList:
    notes = await use_cases.notes(ctx.sessions, principal, request_id)
    return NoteList(items=[note_out(n) for n in notes])


@router.post(
    "/{request_id}/notes",
    status_code=201,
    response_model=NoteOut,
    summary="Add an internal note (staff only)",
    responses=problem_responses(401, 403, 404, 422),
)
async def add_note(
    principal: Writer, ctx: ContextDep, request_id: RequestId, body: NoteIn
) -> NoteOut:
    return note_out(await use_cases.add_note(ctx.sessions, principal, request_id, body.text))
