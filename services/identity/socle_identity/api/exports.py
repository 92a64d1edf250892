"""Exports (right of access): an admin (scope ``identity:admin``) asks for a person's data,
or the person for their own (scope ``identity:account``, the token of identity's account
pages); every service writes its part and the export reports who has answered."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from socle.auth import Principal, require_scope
from socle.openapi import problem_responses
from socle_identity import administration, exports
from socle_identity import scopes as sc
from socle_identity.api.admin import Admin
from socle_identity.api.deps import ProviderDep
from socle_identity.exports import ExportReport

router = APIRouter(prefix="/v1", tags=["admin"])
AccountOwner = Annotated[Principal, Depends(require_scope(sc.ACCOUNT_SCOPE))]

NOT_READY = (409, "The export is not ready yet")
STORE_DOWN = (503, "The document store cannot be reached")


@router.post("/users/{user_id}/export", status_code=202, responses=problem_responses(401, 403, 404))
async def export_user(user_id: str, principal: Admin, p: ProviderDep) -> Response:
    """Ask every service for its part of a person's data (``person.export.requested``).
    ``Location`` names the export."""
    export_id = await administration.request_export(
        p.sessions, tenant=principal.tenant, user_id=user_id, services=p.settings.export_services
    )
    return Response(status_code=202, headers={"Location": f"/v1/exports/{export_id}"})


@router.get(
    "/exports/{export_id}", response_model=ExportReport, responses=problem_responses(401, 403, 404)
)
async def export_report(export_id: str, principal: Admin, p: ProviderDep) -> ExportReport:
    """An export: ``ready`` once every service wrote its part; services silent after
    ``SOCLE_EXPORT_ANSWER_SECONDS`` are named."""
    return await administration.export_report(
        p.sessions,
        tenant=principal.tenant,
        export_id=export_id,
        answer_seconds=p.settings.export_answer_seconds,
    )


@router.post("/me/export", status_code=202, responses=problem_responses(401, 403, 404))
async def export_me(principal: AccountOwner, p: ProviderDep) -> Response:
    """Ask for one's own data. ``Location`` names the export."""
    export_id = await administration.request_export(
        p.sessions,
        tenant=principal.tenant,
        user_id=principal.subject,
        services=p.settings.export_services,
    )
    return Response(status_code=202, headers={"Location": f"/v1/me/exports/{export_id}"})


@router.get(
    "/me/exports/{export_id}",
    response_model=ExportReport,
    responses=problem_responses(401, 403, 404),
)
async def my_export(export_id: str, principal: AccountOwner, p: ProviderDep) -> ExportReport:
    """One's own export; another person's answers 404."""
    return await administration.export_report(
        p.sessions,
        tenant=principal.tenant,
        export_id=export_id,
        answer_seconds=p.settings.export_answer_seconds,
        user_id=principal.subject,
    )


ZIP: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/zip": {}}, "description": "The archive"}
}


def _zip(export_id: str, body: bytes) -> Response:
    return Response(
        body,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="my-data-{export_id}.zip"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/exports/{export_id}/archive",
    response_class=Response,
    responses={**problem_responses(401, 403, 404, NOT_READY, STORE_DOWN), **ZIP},
)
async def export_archive(export_id: str, principal: Admin, p: ProviderDep) -> Response:
    """The ZIP of a ready export: one ``<service>.json`` per service (409 until ready)."""
    body = await exports.archive(
        p.sessions, p.settings, tenant=principal.tenant, export_id=export_id
    )
    return _zip(export_id, body)


@router.get(
    "/me/exports/{export_id}/archive",
    response_class=Response,
    responses={**problem_responses(401, 403, 404, NOT_READY, STORE_DOWN), **ZIP},
)
async def my_export_archive(export_id: str, principal: AccountOwner, p: ProviderDep) -> Response:
    """One's own export as a ZIP; another person's answers 404."""
    body = await exports.archive(
        p.sessions,
        p.settings,
        tenant=principal.tenant,
        export_id=export_id,
        user_id=principal.subject,
    )
    return _zip(export_id, body)
