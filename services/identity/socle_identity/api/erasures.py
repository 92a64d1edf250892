"""Erasure reports (scope ``identity:admin``): what each service erased or kept for an
erased account, and who has not answered."""

from __future__ import annotations

from fastapi import APIRouter

from socle.openapi import problem_responses
from socle_identity import administration
from socle_identity.api.admin import Admin
from socle_identity.api.deps import ProviderDep
from socle_identity.erasures import ErasureReport

router = APIRouter(prefix="/v1", tags=["admin"])


@router.get(
    "/erasures/{erasure_id}",
    response_model=ErasureReport,
    responses=problem_responses(401, 403, (404, "No such erasure in this tenant")),
)
async def erasure_report(erasure_id: str, principal: Admin, p: ProviderDep) -> ErasureReport:
    """The report of an erasure (``Location`` of ``DELETE /v1/users/{user_id}``): complete
    once every service answered ``person.erased``; services silent after
    ``SOCLE_ERASURE_ANSWER_SECONDS`` are named."""
    return await administration.erasure_report(
        p.sessions,
        tenant=principal.tenant,
        erasure_id=erasure_id,
        answer_seconds=p.settings.erasure_answer_seconds,
    )
