"""Templates: create, new version, read, list, preview (scope ``notifications:admin``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from socle.idempotency import IdempotencyKey, idempotent_post
from socle.openapi import problem_responses
from socle_notify import use_cases
from socle_notify.api.deps import Admin, ContextDep, Cursor, Limit
from socle_notify.render import sms_fragments
from socle_notify.schemas import (
    ContentOut,
    PreviewIn,
    PreviewOut,
    TemplateCreate,
    TemplateList,
    TemplateOut,
    TemplateUpdate,
)
from socle_notify.templates import Templates, TemplateView

router = APIRouter(prefix="/v1/templates", tags=["templates"])


def template_out(view: TemplateView) -> TemplateOut:
    t = view.template
    return TemplateOut(
        id=t.id,
        name=t.name,
        channel=t.channel,
        version=view.version,
        default_language=t.default_language,
        secret=t.secret,
        contents={
            lang: ContentOut(
                subject=c.subject,
                body=c.body,
                html=c.html,
                placeholders=Templates.content_placeholders(c),
            )
            for lang, c in sorted(view.contents.items())
        },
        created_at=t.created_at,
        updated_at=t.updated_at,
    )


@router.post(
    "",
    status_code=201,
    response_model=TemplateOut,
    responses=problem_responses(422),
    summary="Create a template (version 1)",
)
async def create_template(
    body: TemplateCreate,
    principal: Admin,
    ctx: ContextDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def create(s: AsyncSession) -> TemplateOut:
        return template_out(await ctx.templates.create(s, principal.tenant, body))

    return await idempotent_post(
        ctx.sessions,
        principal,
        service="notify",
        action="templates",
        key=idempotency_key,
        body=body,
        create=create,
    )


@router.get("", response_model=TemplateList, summary="List templates")
async def list_templates(
    principal: Admin,
    ctx: ContextDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TemplateList:
    views, next_cursor = await use_cases.templates_page(ctx, principal.tenant, limit, cursor)
    return TemplateList(items=[template_out(v) for v in views], next_cursor=next_cursor)


@router.get(
    "/{template_id}",
    response_model=TemplateOut,
    responses=problem_responses(404),
    summary="Read a template (its latest version, or `version`)",
)
async def get_template(
    template_id: str,
    principal: Admin,
    ctx: ContextDep,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> TemplateOut:
    return template_out(await use_cases.template(ctx, principal.tenant, template_id, version))


@router.put(
    "/{template_id}",
    response_model=TemplateOut,
    responses=problem_responses(404, 422),
    summary="Write a new version of a template (older versions stay readable)",
)
async def update_template(
    template_id: str,
    body: TemplateUpdate,
    principal: Admin,
    ctx: ContextDep,
) -> TemplateOut:
    view = await use_cases.update_template(ctx, principal.tenant, template_id, body)
    return template_out(view)


@router.post(
    "/{template_id}/preview",
    response_model=PreviewOut,
    responses=problem_responses(404, 422),
    summary="Render a template with sample values; lists missing placeholders",
)
async def preview_template(
    template_id: str,
    body: PreviewIn,
    principal: Admin,
    ctx: ContextDep,
) -> PreviewOut:
    view = await use_cases.template(ctx, principal.tenant, template_id, body.version)
    language = Templates.pick_language(view, body.language)
    rendered = Templates.render(view, language, body.personalisation)
    fragments = sms_fragments(rendered.body)[1] if view.template.channel == "sms" else None
    return PreviewOut(
        template_id=view.template.id,
        version=view.version,
        language=language,
        subject=rendered.subject,
        body=rendered.body,
        html=rendered.html,
        missing_placeholders=rendered.missing,
        sms_fragments=fragments,
    )
