"""Rules from events (scope ``notifications:admin``)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from socle.idempotency import IdempotencyKey, idempotent_post
from socle.openapi import problem_responses
from socle_notify import use_cases
from socle_notify.api.deps import Admin, ContextDep
from socle_notify.models import Rule
from socle_notify.schemas import RuleCreate, RuleList, RuleOut

router = APIRouter(prefix="/v1/rules", tags=["rules"])


def rule_out(rule: Rule) -> RuleOut:
    return RuleOut(
        id=rule.id,
        event_type=rule.event_type,
        template_id=rule.template_id,
        recipient_field=rule.recipient_field,
        language_field=rule.language_field,
        created_at=rule.created_at,
    )


@router.post(
    "",
    status_code=201,
    response_model=RuleOut,
    responses=problem_responses(404, 422),
    summary="When an event of this type happens, send this template",
)
async def create_rule(
    body: RuleCreate,
    principal: Admin,
    ctx: ContextDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def create(s: AsyncSession) -> RuleOut:
        return rule_out(await ctx.rules.create(s, principal.tenant, body))

    return await idempotent_post(
        ctx.sessions,
        principal,
        service="notify",
        action="rules",
        key=idempotency_key,
        body=body,
        create=create,
    )


@router.get("", response_model=RuleList, summary="List the rules")
async def list_rules(principal: Admin, ctx: ContextDep) -> RuleList:
    rules = await use_cases.rules(ctx, principal.tenant)
    return RuleList(items=[rule_out(r) for r in rules])


@router.delete(
    "/{rule_id}", status_code=204, responses=problem_responses(404), summary="Delete a rule"
)
async def delete_rule(rule_id: str, principal: Admin, ctx: ContextDep) -> Response:
    await use_cases.delete_rule(ctx, principal.tenant, rule_id)
    return Response(status_code=204)
