"""The shared catalogue between communes: share a procedure, list the catalogue, adopt."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from socle.openapi import problem_responses
from socle_procedures import use_cases
from socle_procedures.api.deps import Admin, ContextDep, Reader
from socle_procedures.api.responses import procedure_out
from socle_procedures.schemas import ProcedureOut

router = APIRouter(prefix="/v1", tags=["shared catalogue"])

Slug = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{1,62}$", description="A slug.")]
Tenant = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}$", description="The source tenant.")]


class CatalogueEntry(BaseModel):
    tenant: str = Field(description="The tenant that shares it.")
    procedure: ProcedureOut = Field(description="Its current published version.")
    adopted_as: str | None = Field(description="The caller's slug for it, if adopted.")
    adopted_version: int | None = Field(description="The source version last taken.")
    update_available: bool


class Catalogue(BaseModel):
    items: list[CatalogueEntry]


class AdoptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9-]{1,62}$",
        description="The caller's slug for it (first adoption; default: the source's).",
    )


@router.post(
    "/procedures/{slug}/share",
    response_model=ProcedureOut,
    summary="Share a published procedure with every other tenant",
    responses=problem_responses(401, 403, 404, 409),
)
async def share(principal: Admin, ctx: ContextDep, slug: Slug) -> ProcedureOut:
    return procedure_out(await use_cases.share(ctx.sessions, principal, slug))


@router.get(
    "/catalogue",
    response_model=Catalogue,
    summary="The shared catalogue, with what the caller adopted and newer source versions",
    responses=problem_responses(401, 403),
)
async def listing(principal: Reader, ctx: ContextDep) -> Catalogue:
    found = await use_cases.catalogue_entries(ctx.sessions, principal)
    return Catalogue(
        items=[
            CatalogueEntry(
                tenant=e.source.tenant,
                procedure=procedure_out(e.source),
                adopted_as=e.adopted_as,
                adopted_version=e.adopted_version,
                update_available=e.update_available,
            )
            for e in found
        ]
    )


@router.post(
    "/catalogue/{tenant}/{slug}/adopt",
    status_code=201,
    response_model=ProcedureOut,
    summary="Adopt a shared procedure (or take its new version) as a draft of the caller's",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def adopt(
    principal: Admin,
    ctx: ContextDep,
    tenant: Tenant,
    slug: Slug,
    body: AdoptIn | None = None,
) -> ProcedureOut:
    draft = await use_cases.adopt(
        ctx.sessions, principal, tenant, slug, as_slug=body.slug if body else None
    )
    return procedure_out(draft, full=True)
