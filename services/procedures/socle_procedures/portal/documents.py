"""Document fields in the portal: a file the citizen uploads to storage with their own token,
or a document they already stored (for another procedure) shared with this request by a
storage grant, never copied.

The form of a document field ``plan`` sends ``plan`` (the file input) and ``plan.choice``
(the id of one of the citizen's documents, offered as radio buttons). A new file wins."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData, UploadFile

from socle_procedures.definitions.answers import AnswerError
from socle_procedures.errors import DocumentRefused, StorageUnavailable
from socle_procedures.models import Request
from socle_procedures.storage_client import StorageClient

TYPE_NAMES = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "image/tiff": "TIFF",
    "text/plain": "TXT",
}
MB = 1_000_000


def document_fields(step: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [f for f in step["fields"] if f["type"] == "document"]


def accepted(spec: Mapping[str, Any], content_type: str | None) -> bool:
    accept = spec.get("accept")
    return not accept or (content_type or "").split(";")[0].strip().lower() in accept


def constraints(spec: Mapping[str, Any], texts: Mapping[str, str]) -> str:
    """ "PDF, 20 MB at most" in the citizen's language."""
    parts = []
    if spec.get("accept"):
        parts.append(", ".join(TYPE_NAMES.get(t, t) for t in spec["accept"]))
    if spec.get("max_bytes"):
        size = spec["max_bytes"] / MB
        parts.append(
            texts["document_max"].format(size=f"{size:.0f}" if size >= 1 else f"{size:.1f}")
        )
    return ", ".join(parts)


async def offers(
    storage: StorageClient, token: str, step: Mapping[str, Any]
) -> dict[str, list[dict[str, Any]]]:
    """The citizen's own documents each document field of the step may take (same kind,
    an accepted type), newest first. Storage down: nothing offered, uploading still shown."""
    out: dict[str, list[dict[str, Any]]] = {}
    for spec in document_fields(step):
        try:
            mine = await storage.mine(token, spec["kind"])
        except StorageUnavailable:
            mine = []
        out[spec["id"]] = [
            {
                "id": d["id"],
                "filename": d.get("filename") or d["id"],
                "date": ".".join(reversed(str(d.get("created_at", ""))[:10].split("-"))),
            }
            for d in mine
            if accepted(spec, d.get("content_type"))
        ]
    return out


def _upload_of(form: FormData, name: str) -> UploadFile | None:
    value = form.get(name)
    if isinstance(value, UploadFile) and value.filename and (value.size or 0) > 0:
        return value
    return None


async def resolve(
    storage: StorageClient, token: str, request: Request, step: Mapping[str, Any], form: FormData
) -> tuple[dict[str, Any], list[AnswerError]]:
    """The answers of the step's document fields (``{document_id, filename}``), uploading
    new files and sharing reused ones; a refused file is an error next to its field."""
    raw: dict[str, Any] = {}
    errors: list[AnswerError] = []
    for spec in document_fields(step):
        fid = spec["id"]
        current = request.answers.get(fid)
        upload = _upload_of(form, fid)
        chosen = str(form.get(f"{fid}.choice", "") or "")
        try:
            if upload is not None:
                raw[fid] = await _upload(storage, token, request, spec, upload)
            elif chosen and not (
                isinstance(current, Mapping) and current.get("document_id") == chosen
            ):
                raw[fid] = await _reuse(storage, token, request, spec, chosen)
            else:
                raw[fid] = current
        except DocumentRefused as exc:
            errors.append(AnswerError(fid, exc.reason, {"max": spec.get("max_bytes")}))
    return raw, errors


async def _upload(
    storage: StorageClient,
    token: str,
    request: Request,
    spec: Mapping[str, Any],
    upload: UploadFile,
) -> dict[str, str]:
    if spec.get("max_bytes") and (upload.size or 0) > spec["max_bytes"]:
        raise DocumentRefused("The file is larger than this field allows.", "document_size")
    if not accepted(spec, upload.content_type) and upload.content_type not in (
        None,
        "",
        "application/octet-stream",
    ):
        raise DocumentRefused("This field does not take this type of file.", "document_type")
    await upload.seek(0)
    meta = await storage.upload(
        token,
        file=upload.file,
        filename=upload.filename or "document",
        content_type=upload.content_type or "application/octet-stream",
        kind=spec["kind"],
        procedure=request.id,
        idempotency_key=uuid.uuid4().hex,
    )
    if not accepted(spec, meta.get("content_type")):  # storage sniffed the bytes
        await storage.delete(token, meta["id"])
        raise DocumentRefused("This field does not take this type of file.", "document_type")
    return {"document_id": meta["id"], "filename": str(meta.get("filename") or "")}


async def _reuse(
    storage: StorageClient, token: str, request: Request, spec: Mapping[str, Any], chosen: str
) -> dict[str, str]:
    doc = await storage.get(token, chosen)  # another person's document: not found
    if doc is None or doc.get("status") != "active" or not accepted(spec, doc.get("content_type")):
        raise DocumentRefused("That document cannot be used here.", "not_a_document")
    if doc.get("procedure") != request.id:
        await storage.share(token, chosen, request.id, f"share-{request.id}-{chosen}")
    return {"document_id": doc["id"], "filename": str(doc.get("filename") or "")}


def field_view(
    spec: Mapping[str, Any], offered: list[dict[str, Any]], texts: Mapping[str, str]
) -> dict[str, Any]:
    """What the step template needs for a document field."""
    return {
        "offers": offered,
        "constraints": constraints(spec, texts),
        "accept": ",".join(spec.get("accept") or []),
    }
