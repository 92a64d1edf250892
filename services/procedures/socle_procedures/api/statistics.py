"""``/open-data/{tenant}/procedures/{slug}/statistics.{json,csv}``: public, anonymised
figures of a procedure (no token: open data)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from socle.openapi import problem_responses
from socle_procedures import stats, use_cases
from socle_procedures.api.deps import ContextDep

router = APIRouter(prefix="/open-data", tags=["open statistics"])

Tenant = Annotated[str, Path(max_length=64, pattern=r"^[a-z0-9-]+$")]
Slug = Annotated[str, Path(max_length=64, pattern=r"^[a-z0-9-]+$")]

ROUTES: frozenset[str] = frozenset(
    {
        "/open-data/{tenant}/procedures/{slug}/statistics.json",
        "/open-data/{tenant}/procedures/{slug}/statistics.csv",
    }
)


@router.get(
    "/{tenant}/procedures/{slug}/statistics.json",
    summary="Requests per state per month and median days to a decision (counts below 5 "
    "suppressed as null)",
    responses=problem_responses(404, 422),
)
async def statistics_json(tenant: Tenant, slug: Slug, ctx: ContextDep) -> dict[str, Any]:
    months = await use_cases.statistics(ctx.sessions, tenant, slug)
    return stats.as_json(tenant, slug, months)


@router.get(
    "/{tenant}/procedures/{slug}/statistics.csv",
    summary="The same figures as CSV (suppressed counts are empty cells)",
    response_class=Response,
    responses={**problem_responses(404, 422), 200: {"content": {"text/csv": {}}}},
)
async def statistics_csv(tenant: Tenant, slug: Slug, ctx: ContextDep) -> Response:
    months = await use_cases.statistics(ctx.sessions, tenant, slug)
    return Response(
        stats.as_csv(months),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{slug}-statistics.csv"'},
    )
