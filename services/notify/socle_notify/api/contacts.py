"""The tenant's operations contacts: where its alerts go (scope ``notifications:admin``)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from socle.openapi import problem_responses
from socle_notify.api.deps import Admin, ContextDep
from socle_notify.contacts import MAX_CONTACTS

router = APIRouter(prefix="/v1/admin/operations-contacts", tags=["admin"])


class ContactsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    emails: list[str] = Field(
        min_length=1,
        max_length=MAX_CONTACTS,
        examples=[["informatique@vevey.ch", "greffe@vevey.ch"]],
    )


class ContactsOut(BaseModel):
    tenant: str
    source: str = Field(description="tenant: its own; default: the installation's")
    emails: list[str] = Field(description="Who is mailed when a delivery fails for good")


@router.get(
    "",
    response_model=ContactsOut,
    responses=problem_responses(),
    summary="Where the tenant's alerts go",
)
async def get_contacts(principal: Admin, ctx: ContextDep) -> ContactsOut:
    return ContactsOut.model_validate(await ctx.contacts.show(ctx.sessions, principal.tenant))


@router.put(
    "",
    response_model=ContactsOut,
    responses=problem_responses(422),
    summary="Set where the tenant's alerts go (replaces the list; the next alert uses it)",
)
async def put_contacts(body: ContactsIn, principal: Admin, ctx: ContextDep) -> ContactsOut:
    view = await ctx.contacts.change(ctx.sessions, principal.tenant, body.emails)
    return ContactsOut.model_validate(view)


@router.delete(
    "",
    response_model=ContactsOut,
    responses=problem_responses(),
    summary="Back to the installation's contacts (SOCLE_TENANT_OPERATIONS_EMAILS, "
    "SOCLE_OPERATIONS_EMAIL)",
)
async def delete_contacts(principal: Admin, ctx: ContextDep) -> ContactsOut:
    return ContactsOut.model_validate(
        await ctx.contacts.change(ctx.sessions, principal.tenant, None)
    )
