"""``/v1/documents``: upload, metadata, content, versions, links, sharing, access log."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from socle.idempotency import IdempotencyKey, idempotent_post
from socle.openapi import problem_responses
from socle.problems import PROBLEM_JSON
from socle_storage import content, documents, grants, uploads
from socle_storage.api.deps import Reader, StorageDep, Writer
from socle_storage.api.responses import (
    access_out,
    document_out,
    grant_out,
    link_out,
    upload_out,
    version_out,
)
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


COMMON = problem_responses(
    (401, "No valid access token"),
    (403, "Scope missing, or the action is not yours to take"),
    (404, "No such document in your tenant, or not one you may see"),
    422,
)
UPLOAD_ERRORS = COMMON | problem_responses(
    (
        400,
        "An empty Idempotency-Key, or the client disconnected before the end of the upload "
        "(nothing kept)",
    ),
    (413, "The file exceeds the tenant's maximum size (nothing kept)"),
    (415, "Not multipart, or a content type the tenant does not accept"),
    (
        422,
        "Empty file, missing/invalid field, bad file name, declared type contradicting the "
        "bytes, or malware found (`document-infected`: the document is quarantined)",
    ),
    (503, "Store or scanner unreachable (nothing kept)"),
)
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
    ctype = request.headers.get("content-type")
    async with uploads.receive_document(storage, principal, ctype, request.stream()) as upload:

        async def create(session: AsyncSession) -> tuple[int, dict[str, Any]]:
            outcome = await uploads.create_document(session, storage, principal, upload)
            return upload_out(outcome, 201, request.url.path)

        return await idempotent_post(
            storage.sessions,
            principal,
            service="storage",
            action="documents",
            key=key,
            body=upload.fingerprint,
            create=create,
        )


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
    rows, next_cursor = await documents.list_documents(
        storage,
        principal,
        owner=owner,
        procedure=procedure,
        kind=kind,
        limit=limit,
        cursor=cursor,
    )
    return DocumentPage(items=[document_out(d) for d in rows], next_cursor=next_cursor)


@router.get(
    "/{document_id}",
    summary="Metadata of a document",
    response_model=DocumentOut,
    responses=COMMON,
)
async def get_document(
    document_id: DocumentId, principal: Reader, storage: StorageDep
) -> DocumentOut:
    return document_out(await documents.get_document(storage, principal, document_id))


@router.get(
    "/{document_id}/content",
    summary="Download the content (Range and ETag supported; every read is logged)",
    response_class=StreamingResponse,
    responses=COMMON
    | {
        200: {"description": "The content", "content": {"application/octet-stream": {}}},
        206: {"description": "The requested range", "content": {"application/octet-stream": {}}},
        304: {"description": "Not modified (If-None-Match)"},
        307: {
            "description": "Only when the installation sets SOCLE_DOWNLOAD_REDIRECT_MIN_BYTES: "
            "the whole content of a large version is fetched from the store by following "
            "`Location` (a presigned link, valid SOCLE_PRESIGN_SECONDS; logged as a read)"
        },
    }
    | problem_responses((409, "Deleted or quarantined"), 416, (503, "Store unreachable")),
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
    if result.redirect is not None:
        return Response(
            status_code=307,
            headers={"Location": result.redirect, "Cache-Control": "no-store", "ETag": result.etag},
        )
    if result.chunks is None and result.whole is None:
        return Response(status_code=304, headers=headers)
    if result.range is not None:
        headers["Content-Range"] = f"bytes {result.range.start}-{result.range.end}/{v.size}"
        headers["Content-Length"] = str(result.range.length)
        status = 206
    else:
        headers["Content-Length"] = str(v.size)
        status = 200
    if result.whole is not None:
        return Response(
            result.whole, status_code=status, media_type=v.content_type, headers=headers
        )
    assert result.chunks is not None
    return StreamingResponse(
        result.chunks, status_code=status, media_type=v.content_type, headers=headers
    )


@router.put(
    "/{document_id}/content",
    summary="Upload a new version (multipart/form-data with a `file` part)",
    response_model=DocumentOut,
    responses=UPLOAD_ERRORS | problem_responses((409, "Document deleted or quarantined")),
    openapi_extra=VERSION_BODY,
)
async def upload_version(
    document_id: DocumentId, request: Request, principal: Writer, storage: StorageDep
) -> JSONResponse:
    outcome = await uploads.add_version(
        storage, principal, document_id, request.headers.get("content-type"), request.stream()
    )
    status, body = upload_out(outcome, 200, request.url.path)
    media = PROBLEM_JSON if status >= 400 else "application/json"
    return JSONResponse(body, status_code=status, media_type=media)


@router.get(
    "/{document_id}/versions",
    summary="Versions with their checksums",
    response_model=VersionList,
    responses=COMMON,
)
async def list_versions(
    document_id: DocumentId, principal: Reader, storage: StorageDep
) -> VersionList:
    versions = await content.list_versions(storage, principal, document_id)
    return VersionList(items=[version_out(v) for v in versions])


@router.post(
    "/{document_id}/links",
    status_code=201,
    summary="A short-lived presigned download link (logged as a read)",
    response_model=LinkOut,
    responses=COMMON | problem_responses((409, "Deleted or quarantined")),
)
async def create_link(
    document_id: DocumentId, principal: Reader, storage: StorageDep, body: LinkIn | None = None
) -> LinkOut:
    link = await content.create_link(
        storage, principal, document_id, body.version if body else None
    )
    return link_out(link)


@router.delete(
    "/{document_id}",
    status_code=204,
    summary="Delete (soft; purged after the grace period)",
    responses=COMMON | problem_responses((409, "Under legal hold")),
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
    doc = await documents.set_legal_hold(storage, principal, document_id, body.hold, body.reason)
    return document_out(doc)


@router.post(
    "/{document_id}/grants",
    status_code=201,
    summary="Share a stored document with a procedure or the commune's agents",
    response_model=GrantOut,
    responses=COMMON | problem_responses((409, "Document not active")),
)
async def create_grant(
    document_id: DocumentId,
    body: GrantIn,
    principal: Writer,
    storage: StorageDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    async def create(session: AsyncSession) -> GrantOut:
        return grant_out(await grants.share(session, principal, document_id, body))

    return await idempotent_post(
        storage.sessions,
        principal,
        service="storage",
        action=f"grants:{document_id}",
        key=key,
        body=body,
        create=create,
    )


@router.get(
    "/{document_id}/grants",
    summary="Grants of a document",
    response_model=GrantList,
    responses=COMMON,
)
async def list_grants(document_id: DocumentId, principal: Reader, storage: StorageDep) -> GrantList:
    rows = await grants.list_grants(storage, principal, document_id)
    return GrantList(items=[grant_out(g) for g in rows])


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
    records, next_cursor = await content.access_log(storage, principal, document_id, limit, cursor)
    return AccessPage(items=[access_out(r) for r in records], next_cursor=next_cursor)
