"""The tenant's own sender of mails (scope ``notifications:admin``)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from socle.openapi import problem_responses
from socle_notify.api.deps import Admin, ContextDep

router = APIRouter(prefix="/v1/admin/sender", tags=["admin"])


class SenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_name: str = Field(min_length=1, max_length=200, examples=["Commune de Vevey"])
    from_address: str = Field(min_length=3, max_length=320, examples=["guichet@vevey.ch"])
    reply_to: str | None = Field(default=None, max_length=320)


class SenderOut(BaseModel):
    tenant: str
    source: str = Field(description="tenant: its own; default: the installation's")
    from_name: str
    from_address: str
    reply_to: str | None
    from_header: str = Field(description="The From header as sent")


@router.get(
    "", response_model=SenderOut, responses=problem_responses(), summary="Who mails come from"
)
async def get_sender(principal: Admin, ctx: ContextDep) -> SenderOut:
    return SenderOut.model_validate(await ctx.senders.show(ctx.sessions, principal.tenant))


@router.put(
    "",
    response_model=SenderOut,
    responses=problem_responses(422),
    summary="Set the tenant's sender (From name and address, Reply-To)",
)
async def put_sender(body: SenderIn, principal: Admin, ctx: ContextDep) -> SenderOut:
    view = await ctx.senders.change(ctx.sessions, principal.tenant, body.model_dump())
    return SenderOut.model_validate(view)


@router.delete(
    "",
    response_model=SenderOut,
    responses=problem_responses(),
    summary="Back to the installation's sender (SOCLE_MAIL_FROM)",
)
async def delete_sender(principal: Admin, ctx: ContextDep) -> SenderOut:
    return SenderOut.model_validate(await ctx.senders.change(ctx.sessions, principal.tenant, None))
