"""Upload, metadata, download (Range, ETag), listing, versions, deletion, legal hold."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from socle_dev.testing import assert_problem
from tests.support.storage import PDF, PNG, bucket_keys, upload


async def test_citizen_uploads_a_pdf_and_gets_its_metadata(client, auth, bus, tenant, s3):
    response = await upload(client, auth(), filename="Plan du rez.pdf", procedure="permit-42")
    assert response.status_code == 201, response.text
    doc = response.json()
    assert doc["filename"] == "Plan du rez.pdf"
    assert doc["content_type"] == "application/pdf"
    assert doc["size"] == len(PDF)
    assert doc["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert doc["kind"] == "building-plan"
    assert doc["owner"] == "citizen-1"
    assert doc["procedure"] == "permit-42"
    assert doc["version"] == 1 and doc["status"] == "active"
    created = datetime.fromisoformat(doc["created_at"])
    retention = datetime.fromisoformat(doc["retention_until"])
    assert retention - created == timedelta(days=3650)

    fetched = await client.get(f"/v1/documents/{doc['id']}", headers=auth())
    assert fetched.json() == doc

    (event,) = await bus.wait_for("document.uploaded")
    assert bus.subject_of(event) == f"socle.{tenant}.document.uploaded"
    assert event["data"] == {
        "document_id": doc["id"],
        "kind": "building-plan",
        "owner": "citizen-1",
        "procedure": "permit-42",
        "version": 1,
        "content_type": "application/pdf",
        "size": len(PDF),
        "sha256": doc["sha256"],
        "retention_until": event["data"]["retention_until"],
    }
    # the object key comes from generated ids, not from the file name
    (key,) = bucket_keys(s3, tenant)
    assert key.startswith(f"{tenant}/documents/{doc['id']}/") and "Plan" not in key


async def test_download_whole_by_range_and_with_etag(client, auth):
    doc = (await upload(client, auth())).json()
    url = f"/v1/documents/{doc['id']}/content"

    whole = await client.get(url, headers=auth())
    assert whole.status_code == 200
    assert whole.content == PDF
    assert whole.headers["content-type"] == "application/pdf"
    assert whole.headers["etag"] == f'"{doc["sha256"]}"'
    assert whole.headers["accept-ranges"] == "bytes"
    assert "attachment" in whole.headers["content-disposition"]

    part = await client.get(url, headers=auth() | {"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == PDF[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(PDF)}"

    tail = await client.get(url, headers=auth() | {"Range": "bytes=-6"})
    assert tail.status_code == 206 and tail.content == b"%%EOF\n"

    beyond = await client.get(url, headers=auth() | {"Range": f"bytes={len(PDF)}-"})
    assert_problem(beyond, 416, "range-not-satisfiable")
    assert beyond.headers["content-range"] == f"bytes */{len(PDF)}"

    cached = await client.get(url, headers=auth() | {"If-None-Match": whole.headers["etag"]})
    assert cached.status_code == 304 and cached.content == b""


async def test_other_tenants_and_other_citizens_get_404(client, auth, tenant):
    doc = (await upload(client, auth())).json()
    for headers in (
        auth(for_tenant=tenant + "x"),
        auth(subject="citizen-2"),
        auth(subject="agent-1", roles=("agent",)),  # a citizen's private document
    ):
        for path in ("", "/content", "/versions", "/access-log"):
            response = await client.get(f"/v1/documents/{doc['id']}{path}", headers=headers)
            assert_problem(response, 404, "document-not-found")
        listed = await client.get("/v1/documents", headers=headers)
        assert listed.json()["items"] == []
    deleted = await client.delete(f"/v1/documents/{doc['id']}", headers=auth(subject="citizen-2"))
    assert_problem(deleted, 404, "document-not-found")
    assert (await client.get(f"/v1/documents/{doc['id']}", headers=auth())).status_code == 200


async def test_scopes_are_required(client, auth):
    doc = (await upload(client, auth())).json()
    read_only = auth(scopes=["documents:read"])
    assert_problem(await upload(client, read_only), 403, "insufficient-scope")
    assert (await client.get(f"/v1/documents/{doc['id']}", headers=read_only)).status_code == 200
    no_scope = auth(scopes=[])
    response = await client.get(f"/v1/documents/{doc['id']}", headers=no_scope)
    assert_problem(response, 403, "insufficient-scope")
    assert_problem(await client.get("/v1/documents"), 401, "missing-token")


async def test_list_filters_and_cursor_pagination(client, auth, service):
    ids = []
    for i in range(5):
        kind = "id-card" if i % 2 else "building-plan"
        response = await upload(client, auth(), kind=kind, procedure=f"p-{i % 2}")
        ids.append(response.json()["id"])
    await upload(client, auth(subject="citizen-2"), kind="id-card")

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/documents", headers=auth(), params=params)).json()
        assert len(page["items"]) <= 2
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))  # newest first, the other citizen's not included

    cards = (await client.get("/v1/documents", headers=auth(), params={"kind": "id-card"})).json()
    assert [d["id"] for d in cards["items"]] == [ids[3], ids[1]]
    by_proc = await client.get("/v1/documents", headers=auth(), params={"procedure": "p-0"})
    assert {d["id"] for d in by_proc.json()["items"]} == {ids[0], ids[2], ids[4]}
    by_owner = await client.get("/v1/documents", headers=service, params={"owner": "citizen-2"})
    assert [d["owner"] for d in by_owner.json()["items"]] == ["citizen-2"]
    everything = await client.get("/v1/documents", headers=service, params={"limit": 50})
    assert len(everything.json()["items"]) == 6

    bad = await client.get("/v1/documents", headers=auth(), params={"cursor": "garbage"})
    assert_problem(bad, 422, "invalid-cursor")


async def test_new_versions_are_listed_with_their_checksums(client, auth, bus):
    doc = (await upload(client, auth())).json()
    second = PDF.replace(b"Catalog", b"Pages  ")
    response = await client.put(
        f"/v1/documents/{doc['id']}/content",
        headers=auth(),
        files={"file": ("plan-v2.pdf", second, "application/pdf")},
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["version"] == 2
    assert updated["filename"] == "plan-v2.pdf"
    assert updated["sha256"] == hashlib.sha256(second).hexdigest()
    assert updated["created_at"] == doc["created_at"]

    versions = (await client.get(f"/v1/documents/{doc['id']}/versions", headers=auth())).json()
    assert [(v["number"], v["sha256"], v["size"]) for v in versions["items"]] == [
        (1, hashlib.sha256(PDF).hexdigest(), len(PDF)),
        (2, hashlib.sha256(second).hexdigest(), len(second)),
    ]
    url = f"/v1/documents/{doc['id']}/content"
    assert (await client.get(url, headers=auth())).content == second
    assert (await client.get(url, headers=auth(), params={"version": 1})).content == PDF
    missing = await client.get(url, headers=auth(), params={"version": 7})
    assert_problem(missing, 404, "version-not-found")
    uploaded = await bus.wait_for("document.uploaded", 2)
    assert [e["data"]["version"] for e in uploaded] == [1, 2]


async def test_soft_delete_then_legal_hold_refuses_deletion(client, auth, admin, bus, s3, tenant):
    doc = (await upload(client, auth())).json()
    held = (await upload(client, auth(), kind="certificate")).json()

    hold = await client.put(
        f"/v1/documents/{held['id']}/legal-hold",
        headers=admin,
        json={"hold": True, "reason": "appeal 2026-17"},
    )
    assert hold.status_code == 200 and hold.json()["legal_hold"] is True
    refused = await client.delete(f"/v1/documents/{held['id']}", headers=auth())
    assert_problem(refused, 409, "legal-hold")
    citizen_hold = await client.put(
        f"/v1/documents/{held['id']}/legal-hold", headers=auth(), json={"hold": False}
    )
    assert_problem(citizen_hold, 403, "not-allowed")

    assert (await client.delete(f"/v1/documents/{doc['id']}", headers=auth())).status_code == 204
    assert_problem(
        await client.get(f"/v1/documents/{doc['id']}", headers=auth()), 404, "document-not-found"
    )
    listed = (await client.get("/v1/documents", headers=auth())).json()["items"]
    assert [d["id"] for d in listed] == [held["id"]]
    # the commune still sees it, marked deleted, until the purge
    seen = (await client.get(f"/v1/documents/{doc['id']}", headers=admin)).json()
    assert seen["status"] == "deleted" and seen["deleted_at"]
    content = await client.get(f"/v1/documents/{doc['id']}/content", headers=admin)
    assert_problem(content, 409, "document-deleted")
    (event,) = await bus.wait_for("document.deleted")
    assert event["data"]["document_id"] == doc["id"] and event["data"]["deleted_at"]
    assert len(bucket_keys(s3, tenant)) == 2  # soft: the bytes stay until the purge


async def test_png_and_office_types_are_sniffed(client, auth, admin):
    png = await upload(client, auth(), PNG, filename="photo.png", content_type="image/png")
    assert png.status_code == 201 and png.json()["content_type"] == "image/png"
    generic = await upload(
        client, auth(), PNG, filename="scan", content_type="application/octet-stream"
    )
    assert generic.json()["content_type"] == "image/png"
    docx_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    docx = await upload(
        client,
        auth(),
        b"PK\x03\x04" + b"\x00" * 600,
        filename="letter.docx",
        content_type=docx_type,
    )
    assert docx.status_code == 201 and docx.json()["content_type"] == docx_type
