"""Parts of a person's data export (right of access), kept in the tenant's bucket under
``exports/<export_id>/``: each service's JSON part, and the archive that gathers them.

The parts are written by the commune's services (client tokens) or its admins; an archive
is read by them too. Only the export's own prefix is ever reached, whatever the names given."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

from sqlalchemy import select

from socle.auth import Principal
from socle.privacy import part_key
from socle.problems import TooLarge, Unprocessable
from socle_storage.access import acts_for_tenant
from socle_storage.context import Storage
from socle_storage.errors import ExportNotFound, NotAllowed
from socle_storage.models import Document, DocumentVersion

SERVICE = "storage"

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_PART_BYTES = 50 * 1024 * 1024


def _check(principal: Principal, *names: str) -> None:
    if not acts_for_tenant(principal):
        raise NotAllowed("Only the commune's admins or its services reach data exports.")
    if not all(_NAME.match(n) for n in names):
        raise Unprocessable("Export and service names are letters, digits, - and _.")


async def write_part(
    storage: Storage, tenant: str, export_id: str, service: str, body: bytes
) -> str:
    """Keep a service's part (the same key each time: a retry overwrites); its key."""
    if len(body) > MAX_PART_BYTES:
        raise TooLarge(f"An export part is at most {MAX_PART_BYTES} bytes.")
    store = storage.store
    bucket = await store.ensure_bucket(tenant)
    key = part_key(export_id, service)
    await store.put_bytes(bucket, key, body, "application/json")
    return key


async def put_part(
    storage: Storage,
    principal: Principal,
    export_id: str,
    service: str,
    body: bytes,
    tenant: str | None = None,
) -> str:
    _check(principal, export_id, service)
    if tenant is not None and tenant != principal.tenant:
        raise NotAllowed("A part of an export is written in the caller's own tenant only.")
    return await write_part(storage, principal.tenant, export_id, service, body)


async def delete_export(
    storage: Storage, principal: Principal, export_id: str, tenant: str | None = None
) -> int:
    """Delete every object of an export (its parts); how many there were (0 is fine: a
    retry after a deletion)."""
    _check(principal, export_id)
    if tenant is not None and tenant != principal.tenant:
        raise NotAllowed("An export is deleted in the caller's own tenant only.")
    store = storage.store
    bucket = store.bucket_for(principal.tenant)
    prefix = f"exports/{export_id}/"
    objects = await store.list_prefix(bucket, prefix)
    for obj in objects:
        await store.remove(bucket, str(obj.object_name))
    if objects:
        await store.remove(bucket, prefix)  # the folder some stores keep for the prefix
    return len([o for o in objects if not str(o.object_name).endswith("/")])


async def archive(storage: Storage, principal: Principal, export_id: str) -> bytes:
    """A ZIP of every part of an export, each as ``<service>.json``, with the files of the
    documents storage's part lists; 404 when it has none."""
    _check(principal, export_id)
    store = storage.store
    bucket = store.bucket_for(principal.tenant)
    prefix = f"exports/{export_id}/"
    objects = await store.list_prefix(bucket, prefix)
    if not objects:
        raise ExportNotFound(f"No export {export_id!r} in this tenant.")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for obj in sorted(objects, key=lambda o: str(o.object_name)):
            name = str(obj.object_name).removeprefix(prefix)
            body = await _read(storage, bucket, str(obj.object_name), int(obj.size or 0))
            zf.writestr(name, body)
            if name == f"{SERVICE}.json":
                await _add_files(storage, principal.tenant, json.loads(body), zf)
    return out.getvalue()


async def _read(storage: Storage, bucket: str, key: str, size: int) -> bytes:
    return b"".join([c async for c in storage.store.read(bucket, key, 0, size)])


async def _add_files(
    storage: Storage, tenant: str, part: dict[str, Any], zf: zipfile.ZipFile
) -> None:
    """The current file of each document storage's part lists, as
    ``documents/<id>/<file name>`` (deleted and quarantined ones are left out)."""
    listed = part.get("data", {}).get("documents", [])
    ids = [str(d["id"]) for d in listed if d.get("status") not in ("deleted", "quarantined")]
    if not ids:
        return
    async with storage.sessions() as session:
        rows = (
            await session.execute(
                select(DocumentVersion)
                .join(Document, Document.id == DocumentVersion.document_id)
                .where(
                    Document.tenant == tenant,
                    Document.id.in_(ids),
                    DocumentVersion.number == Document.version,
                    DocumentVersion.status == "active",
                )
            )
        ).scalars()
        versions = list(rows)
    for version in versions:
        body = await _read(storage, version.bucket, version.object_key, version.size)
        zf.writestr(f"documents/{version.document_id}/{version.filename or 'file'}", body)
