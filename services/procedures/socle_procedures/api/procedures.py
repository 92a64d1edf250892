"""``/v1/procedures``: a commune's procedure definitions (create, validate, publish, retire)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from socle.idempotency import IdempotencyKey, idempotent_post
from socle.openapi import problem_responses
from socle_procedures import catalog, use_cases
from socle_procedures.api.deps import Admin, ContextDep, Reader
from socle_procedures.api.responses import procedure_out
from socle_procedures.definitions.validation import problems as definition_problems
from socle_procedures.schemas import (
    DefinitionProblemOut,
    ProcedureList,
    ProcedureOut,
    ValidationOut,
)

router = APIRouter(prefix="/v1/procedures", tags=["procedures"])

Slug = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{1,62}$", description="The procedure's slug.")]
Definition = Annotated[
    dict[str, Any],
    Body(description="A definition following docs/schemas/procedure.schema.json."),
]


@router.post(
    "/validate",
    response_model=ValidationOut,
    summary="Check a definition without storing it",
    responses=problem_responses(401, 403, 422),
)
async def validate(principal: Admin, document: Definition) -> ValidationOut:
    found = definition_problems(document)
    return ValidationOut(
        valid=not found,
        errors=[DefinitionProblemOut(pointer=p.pointer, message=p.message) for p in found],
    )


@router.post(
    "",
    status_code=201,
    response_model=ProcedureOut,
    summary="Store a definition as a new draft version (invalid: 422 with JSON pointers)",
    responses=problem_responses(401, 403, 422),
)
async def create_version(
    principal: Admin,
    ctx: ContextDep,
    document: Definition,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def create(tx: AsyncSession) -> ProcedureOut:
        return procedure_out(await catalog.create_version(tx, principal.tenant, document))

    return await idempotent_post(
        ctx.sessions,
        principal,
        service="procedures",
        action="procedures:create",
        key=idempotency_key,
        body=document,
        create=create,
    )


@router.post(
    "/{slug}/versions/{version}/publish",
    response_model=ProcedureOut,
    summary="Publish a draft version; it never changes afterwards",
    responses=problem_responses(401, 403, 404, 409),
)
async def publish(principal: Admin, ctx: ContextDep, slug: Slug, version: int) -> ProcedureOut:
    return procedure_out(await use_cases.publish(ctx.sessions, principal.tenant, slug, version))


@router.post(
    "/{slug}/retire",
    response_model=ProcedureOut,
    summary="Stop offering a procedure (requests already started go on)",
    responses=problem_responses(401, 403, 404),
)
async def retire(principal: Admin, ctx: ContextDep, slug: Slug) -> ProcedureOut:
    return procedure_out(await use_cases.retire(ctx.sessions, principal.tenant, slug))


@router.get(
    "",
    response_model=ProcedureList,
    summary="Published procedures (with procedures:admin, every version)",
    responses=problem_responses(401, 403),
)
async def list_procedures(principal: Reader, ctx: ContextDep) -> ProcedureList:
    include_all = "procedures:admin" in principal.scopes
    rows = await use_cases.procedures(ctx.sessions, principal.tenant, include_all=include_all)
    return ProcedureList(items=[procedure_out(v) for v in rows])


@router.get(
    "/{slug}",
    response_model=ProcedureOut,
    summary="The published version of a procedure, with its definition",
    responses=problem_responses(401, 403, 404, 409),
)
async def get_procedure(principal: Reader, ctx: ContextDep, slug: Slug) -> ProcedureOut:
    current = await use_cases.procedure(ctx.sessions, principal.tenant, slug)
    return procedure_out(current, full=True)
