"""``/v1/exports``: the parts of a person's data export and the archive gathering them
(the commune's admins and services)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from socle.openapi import problem_responses
from socle_storage import exports
from socle_storage.api.deps import Reader, StorageDep, Writer

router = APIRouter(prefix="/v1/exports", tags=["exports"])

ERRORS = problem_responses(
    (401, "No valid access token"),
    (403, "Not an admin or a service"),
    (404, "No such export"),
    (413, "Part too large"),
    (422, "Invalid export or service name"),
)


@router.put(
    "/{export_id}/parts/{service}",
    summary="Keep a service's part of an export (JSON)",
    status_code=201,
    responses=ERRORS,
)
async def put_part(
    export_id: str,
    service: str,
    request: Request,
    principal: Writer,
    storage: StorageDep,
    tenant: str | None = None,
) -> dict[str, str]:
    """``tenant``, when given, must be the caller's own (a part never lands elsewhere)."""
    body = await request.body()
    key = await exports.put_part(storage, principal, export_id, service, body, tenant)
    return {"object": key}


@router.delete(
    "/{export_id}",
    summary="Delete every part of an export",
    status_code=204,
    response_class=Response,
    responses=ERRORS,
)
async def delete_export(
    export_id: str,
    principal: Writer,
    storage: StorageDep,
    tenant: str | None = None,
) -> Response:
    """Identity deletes an export once its link has expired; ``tenant``, when given, must be
    the caller's own."""
    await exports.delete_export(storage, principal, export_id, tenant)
    return Response(status_code=204)


@router.get(
    "/{export_id}/archive",
    summary="A ZIP of the export's parts",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"application/zip": {}}}},
)
async def get_archive(export_id: str, principal: Reader, storage: StorageDep) -> Response:
    body = await exports.archive(storage, principal, export_id)
    return Response(
        body,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="export-{export_id}.zip"',
            "Cache-Control": "no-store",
        },
    )
