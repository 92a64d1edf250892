"""``/v1/mandates``: a mediator files a request for a citizen; the citizen confirms or
revokes the mandate."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from socle.auth import bearer_token
from socle.openapi import problem_responses
from socle_procedures import mandates, use_cases
from socle_procedures.api.deps import PAYMENT_DOWN, ContextDep, Reader, Writer
from socle_procedures.api.responses import request_out
from socle_procedures.models import Mandate
from socle_procedures.schemas import RequestOut
from socle_procedures.storage_client import StorageClient

router = APIRouter(prefix="/v1/mandates", tags=["mandates"])

MandateId = Annotated[str, Path(max_length=64, description="The mandate's id.")]


class MandateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    procedure: str = Field(max_length=64)
    citizen_name: str = Field(min_length=1, max_length=255)
    citizen_email: EmailStr
    locale: Literal["fr", "de", "it", "en"] = "fr"
    paper_mandate_document_id: str | None = Field(
        default=None,
        max_length=64,
        description="A signed paper mandate stored in storage (kind `mandate`): the mandate "
        "is live at once. Without it, the citizen confirms through an e-mailed link.",
    )


class MandateConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=10, max_length=200, description="From the e-mailed link.")


class MandateOut(BaseModel):
    id: str
    request_id: str
    mediator: str
    mediator_name: str
    citizen_name: str
    kind: Literal["email", "paper"]
    status: Literal["pending", "live", "revoked"]
    filed_by: str = Field(description='"filed by <mediator> for <citizen>"')
    created_at: datetime
    confirmed_at: datetime | None
    revoked_at: datetime | None


def mandate_out(m: Mandate) -> MandateOut:
    return MandateOut(
        id=m.id,
        request_id=m.request_id,
        mediator=m.mediator,
        mediator_name=m.mediator_name,
        citizen_name=m.citizen_name,
        kind=m.kind,
        status=m.status,
        filed_by=f"filed by {m.mediator_name} for {m.citizen_name}",
        created_at=m.created_at,
        confirmed_at=m.confirmed_at,
        revoked_at=m.revoked_at,
    )


class MandateStarted(BaseModel):
    mandate: MandateOut
    request: RequestOut


class MandateList(BaseModel):
    items: list[MandateOut]


@router.post(
    "",
    status_code=201,
    response_model=MandateStarted,
    summary="A mediator starts a request for a citizen (role mediator)",
    responses=problem_responses(401, 403, 404, 409, 422, PAYMENT_DOWN),
)
async def start(
    principal: Writer, body: MandateCreate, context: ContextDep, http: Request
) -> MandateStarted:
    mandates.require_mediator(principal)  # before asking storage anything
    paper = None
    if body.paper_mandate_document_id:
        storage: StorageClient = context.storage
        paper = await storage.get(bearer_token(http), body.paper_mandate_document_id)
        if paper is None:
            paper = {"kind": None}
    mandate, loaded = await use_cases.start_mandate(
        context.sessions,
        principal,
        body.procedure,
        citizen_name=body.citizen_name,
        citizen_email=str(body.citizen_email),
        locale=body.locale,
        paper=paper,
        site=context.site,
    )
    return MandateStarted(mandate=mandate_out(mandate), request=request_out(loaded.request))


@router.get(
    "",
    response_model=MandateList,
    summary="The mandates the caller gave (a citizen) or holds (a mediator)",
    responses=problem_responses(401, 403),
)
async def mine(principal: Reader, ctx: ContextDep) -> MandateList:
    found = await use_cases.mandates_of(ctx.sessions, principal)
    return MandateList(items=[mandate_out(m) for m in found])


@router.post(
    "/{mandate_id}/confirm",
    response_model=MandateOut,
    summary="The citizen confirms the mandate (token from the e-mailed link)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def confirm(
    principal: Writer, ctx: ContextDep, mandate_id: MandateId, body: MandateConfirm
) -> MandateOut:
    mandate = await use_cases.confirm_mandate(ctx.sessions, principal, mandate_id, body.token)
    return mandate_out(mandate)


@router.post(
    "/{mandate_id}/revoke",
    response_model=MandateOut,
    summary="Revoke the mandate (the citizen, or the mediator): the mediator is out at once",
    responses=problem_responses(401, 403, 404),
)
async def revoke(principal: Writer, ctx: ContextDep, mandate_id: MandateId) -> MandateOut:
    return mandate_out(await use_cases.revoke_mandate(ctx.sessions, principal, mandate_id))
