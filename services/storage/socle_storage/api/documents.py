"""``/v1/documents``: upload, metadata, content, versions, links, sharing, access log."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from socle.idempotency import IdempotencyKey, idempotency_scope, run_idempotent
from socle.problems import PROBLEM_JSON
from socle_storage import content, documents, grants, uploads
from socle_storage.api.deps import Reader, StorageDep, Writer
from socle_storage.schemas import (
    KIND_PATTERN,
    MAX_VERSION,
    PROCEDURE_PATTERN,
    AccessPage,
    DocumentOut,
    DocumentPage,
    GrantIn,
    GrantList,
    GrantOut,
    LegalHoldIn,
    LinkIn,
    LinkOut,
    VersionList,
)

router = APIRouter(prefix="/v1/documents", tags=["documents"])

DocumentId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Document id.")]


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {}}}


COMMON: dict[int | str, dict[str, Any]] = {
    401: _problem("No valid access token"),
    403: _problem("Scope missing, or the action is not yours to take"),
    404: _problem("No such document in your tenant, or not one you may see"),
    422: _problem("Invalid request"),
}
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = COMMON | {
    400: _problem(
        "An empty Idempotency-Key, or the client disconnected before the end of the upload "
        "(nothing kept)"
    ),
    413: _problem("The file exceeds the tenant's maximum size (nothing kept)"),
    415: _problem("Not multipart, or a content type the tenant does not accept"),
    422: _problem(
        "Empty file, missing/invalid field, bad file name, declared type contradicting the "
        "bytes, or malware found (`document-infected`: the document is quarantined)"
    ),
    503: _problem("Store or scanner unreachable (nothing kept)"),
}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "kind"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "kind": {"type": "string", "pattern": KIND_PATTERN},
                        "owner": {
                            "type": "string",
                            "description": "Subject owning the document (citizens: themselves).",
                        },
                        "procedure": {"type": "string", "pattern": PROCEDURE_PATTERN},
                    },
                }
            }
        },
    }
}
VERSION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


def _answer(status: int, body: Any) -> JSONResponse:
    media = PROBLEM_JSON if status >= 400 else "application/json"
    return JSONResponse(body, status_code=status, media_type=media)


@router.post(
    "",
    status_code=201,
    summary="Upload a document (multipart/form-data, streamed)",
    response_model=DocumentOut,
    responses=UPLOAD_ERRORS,
    openapi_extra=UPLOAD_BODY,
)
async def upload_document(
    request: Request, principal: Writer, storage: StorageDep, key: IdempotencyKey = None
) -> JSONResponse:
    status, body = await uploads.create_document(
        storage, principal, request.headers.get("content-type"), request.stream(), key
    )
    return _answer(status, body)


@router.get("", summary="List documents", response_model=DocumentPage, responses=COMMON)
async def list_documents(
    principal: Reader,
    storage: StorageDep,
    owner: Annotated[str | None, Query(max_length=255)] = None,
    procedure: Annotated[
        str | None,
        Query(max_length=128, description="Attached to, or shared with, this procedure."),
    ] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> DocumentPage:
    return await documents.list_documents(
        storage,
        principal,
        owner=owner,
        procedure=procedure,
        kind=kind,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/{document_id}",
    summary="Metadata of a document",
    response_model=DocumentOut,
    responses=COMMON,
)
async def get_document(
    document_id: DocumentId, principal: Reader, storage: StorageDep
) -> DocumentOut:
    return await documents.get_document(storage, principal, document_id)


@router.get(
    "/{document_id}/content",
    summary="Download the content (Range and ETag supported; every read is logged)",
    response_class=StreamingResponse,
    responses=COMMON
    | {
        200: {"description": "The content", "content": {"application/octet-stream": {}}},
        206: {"description": "The requested range", "content": {"application/octet-stream": {}}},
        304: {"description": "Not modified (If-None-Match)"},
        409: _problem("Deleted or quarantined"),
        416: _problem("Range not satisfiable"),
        503: _problem("Store unreachable"),
    },
)
async def download_content(
    document_id: DocumentId,
    principal: Reader,
    storage: StorageDep,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    range_: Annotated[str | None, Header(alias="Range")] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    result = await content.download(
        storage,
        principal,
        document_id,
        number=version,
        range_header=range_,
        if_none_match=if_none_match,
    )
    v = result.version
    headers = {
        "ETag": result.etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(v.filename)}",
    }
    if result.chunks is None:
        return Response(status_code=304, headers=headers)
    if result.range is not None:
        headers["Content-Range"] = f"bytes {result.range.start}-{result.range.end}/{v.size}"
        headers["Content-Length"] = str(result.range.length)
        status = 206
    else:
        headers["Content-Length"] = str(v.size)
        status = 200
    return StreamingResponse(
        result.chunks, status_code=status, media_type=v.content_type, headers=headers
    )


@router.put(
    "/{document_id}/content",
    summary="Upload a new version (multipart/form-data with a `file` part)",
    response_model=DocumentOut,
    responses=UPLOAD_ERRORS | {409: _problem("Document deleted or quarantined")},
    openapi_extra=VERSION_BODY,
)
async def upload_version(
    document_id: DocumentId, request: Request, principal: Writer, storage: StorageDep
) -> JSONResponse:
    status, body = await uploads.add_version(
        storage, principal, document_id, request.headers.get("content-type"), request.stream()
    )
    return _answer(status, body)


@router.get(
    "/{document_id}/versions",
    summary="Versions with their checksums",
    response_model=VersionList,
    responses=COMMON,
)
async def list_versions(
    document_id: DocumentId, principal: Reader, storage: StorageDep
) -> VersionList:
    return VersionList(items=await content.list_versions(storage, principal, document_id))


@router.post(
    "/{document_id}/links",
    status_code=201,
    summary="A short-lived presigned download link (logged as a read)",
    response_model=LinkOut,
    responses=COMMON | {409: _problem("Deleted or quarantined")},
)
async def create_link(
    document_id: DocumentId, principal: Reader, storage: StorageDep, body: LinkIn | None = None
) -> LinkOut:
    return await content.create_link(
        storage, principal, document_id, body.version if body else None
    )


@router.delete(
    "/{document_id}",
    status_code=204,
    summary="Delete (soft; purged after the grace period)",
    responses=COMMON | {409: _problem("Under legal hold")},
)
async def delete_document(
    document_id: DocumentId, principal: Writer, storage: StorageDep
) -> Response:
    await documents.delete_document(storage, principal, document_id)
    return Response(status_code=204)


@router.put(
    "/{document_id}/legal-hold",
    summary="Set or lift a legal hold (commune only)",
    response_model=DocumentOut,
    responses=COMMON,
)
async def set_legal_hold(
    document_id: DocumentId, body: LegalHoldIn, principal: Writer, storage: StorageDep
) -> DocumentOut:
    return await documents.set_legal_hold(storage, principal, document_id, body.hold, body.reason)


@router.post(
    "/{document_id}/grants",
    status_code=201,
    summary="Share a stored document with a procedure or the commune's agents",
    response_model=GrantOut,
    responses=COMMON | {409: _problem("Document not active")},
)
async def create_grant(
    document_id: DocumentId,
    body: GrantIn,
    principal: Writer,
    storage: StorageDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    async def action(session: AsyncSession) -> tuple[int, Any]:
        return await grants.share(session, principal, document_id, body)

    async with storage.sessions() as session:
        status, result = await run_idempotent(
            session,
            scope=idempotency_scope(principal, "storage", f"grants:{document_id}"),
            key=key,
            body=body.model_dump(mode="json"),
            action=action,
        )
    return _answer(status, result)


@router.get(
    "/{document_id}/grants",
    summary="Grants of a document",
    response_model=GrantList,
    responses=COMMON,
)
async def list_grants(document_id: DocumentId, principal: Reader, storage: StorageDep) -> GrantList:
    return GrantList(items=await grants.list_grants(storage, principal, document_id))


@router.delete(
    "/{document_id}/grants/{grant_id}",
    status_code=204,
    summary="Revoke a grant",
    responses=COMMON,
)
async def revoke_grant(
    document_id: DocumentId,
    grant_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    principal: Writer,
    storage: StorageDep,
) -> Response:
    await grants.revoke_grant(storage, principal, document_id, grant_id)
    return Response(status_code=204)


@router.get(
    "/{document_id}/access-log",
    summary="Who read the content, when (owner and commune)",
    response_model=AccessPage,
    responses=COMMON,
)
async def access_log(
    document_id: DocumentId,
    principal: Reader,
    storage: StorageDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> AccessPage:
    return await content.access_log(storage, principal, document_id, limit, cursor)
