"""Bad uploads answer a clear problem, and leave nothing behind (no row, no bytes)."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from socle_dev.testing import assert_problem
from socle_storage.models import Document, DocumentVersion
from tests.support.storage import BUCKET, PDF, PNG, bucket_keys, pdf_chunks, streamed_body, upload


async def rows_of(storage, tenant: str) -> tuple[int, int]:
    async with storage.sessions() as session:
        docs = await session.scalar(
            select(func.count()).select_from(Document).where(Document.tenant == tenant)
        )
        versions = await session.scalar(
            select(func.count())
            .select_from(DocumentVersion)
            .where(DocumentVersion.tenant == tenant)
        )
    return int(docs or 0), int(versions or 0)


@pytest.fixture
async def app(started):
    async with started() as pair:
        yield pair


async def assert_nothing_kept(storage, s3, tenant):
    assert await rows_of(storage, tenant) == (0, 0)
    assert bucket_keys(s3, tenant) == []


async def test_empty_file(app, auth, s3, tenant):
    client, storage = app
    assert_problem(await upload(client, auth(), b""), 422, "empty-file")
    await assert_nothing_kept(storage, s3, tenant)


async def test_file_over_the_tenant_limit_is_stopped_while_streaming(app, auth, admin, s3, tenant):
    client, storage = app
    rules = {
        "max_size_bytes": 6 * 1024 * 1024,
        "allowed_content_types": ["application/pdf"],
        "default_retention_days": 30,
    }
    assert (await client.put("/v1/rules", headers=admin, json=rules)).status_code == 200
    # 14 MiB streamed: the first 5 MiB part is already in the store when the limit is hit
    headers, body = streamed_body(pdf_chunks(14 * 1024 * 1024), fields={"kind": "plan"})
    response = await client.post("/v1/documents", headers=auth() | headers, content=body)
    problem = assert_problem(response, 413, "file-too-large")
    assert "6291456" in problem["detail"]
    await assert_nothing_kept(storage, s3, tenant)
    uploads = s3._list_multipart_uploads(BUCKET, prefix=f"{tenant}/").uploads
    assert list(uploads or []) == []  # the multipart upload begun in the store was aborted
    ok = await upload(client, auth(), PDF)
    assert ok.status_code == 201


async def test_type_not_allowed_by_the_tenant(app, auth, admin, s3, tenant):
    client, storage = app
    rules = {
        "max_size_bytes": 1024 * 1024,
        "allowed_content_types": ["application/pdf"],
        "default_retention_days": 30,
    }
    await client.put("/v1/rules", headers=admin, json=rules)
    response = await upload(client, auth(), PNG, filename="x.png", content_type="image/png")
    body = assert_problem(response, 415, "content-type-not-allowed")
    assert "image/png" in body["detail"] and "application/pdf" in body["detail"]
    await assert_nothing_kept(storage, s3, tenant)


async def test_declared_type_that_lies_about_the_bytes(app, auth, s3, tenant):
    client, storage = app
    exe = b"MZ\x90\x00" + b"\x00" * 200
    lying_pdf = await upload(client, auth(), exe, filename="invoice.pdf")
    body = assert_problem(lying_pdf, 422, "content-type-mismatch")
    assert "application/octet-stream" in body["detail"]
    as_png = await upload(client, auth(), PDF, filename="a.png", content_type="image/png")
    assert_problem(as_png, 422, "content-type-mismatch")
    await assert_nothing_kept(storage, s3, tenant)


@pytest.mark.parametrize(
    "filename",
    [
        "../../etc/passwd",
        "..\\..\\boot.ini",
        "plan\r\nX-Injected: 1.pdf",
        "pl\x00an.pdf",
        "evil\u202etxt.pdf",
    ],
)
async def test_filenames_with_traversal_or_control_characters(app, auth, s3, tenant, filename):
    client, storage = app
    response = await upload(client, auth(), filename=filename)
    assert_problem(response, 422, "invalid-filename")
    if "\n" in filename:
        return  # a raw line break would end the header line itself
    # the same name sent raw, not escaped by the client
    headers, body = streamed_body(pdf_chunks(5000), filename=filename, fields={"kind": "plan"})
    raw = await client.post("/v1/documents", headers=auth() | headers, content=body)
    assert_problem(raw, 422, "invalid-filename")
    await assert_nothing_kept(storage, s3, tenant)


async def test_filenames_are_sanitised(app, auth):
    client, _ = app
    cases = {
        "C:\\Users\\anne\\Plan: étage?.pdf": "Plan_ étage_.pdf",
        "/home/anne/.hidden.pdf": "hidden.pdf",
        "a" * 300 + ".pdf": "a" * 196 + ".pdf",
    }
    for sent, kept in cases.items():
        response = await upload(client, auth(), filename=sent)
        assert response.status_code == 201, response.text
        assert response.json()["filename"] == kept


async def test_missing_or_invalid_fields(app, auth, s3, tenant):
    client, storage = app
    no_kind = await client.post(
        "/v1/documents", headers=auth(), files={"file": ("a.pdf", PDF, "application/pdf")}
    )
    assert_problem(no_kind, 422, "invalid-upload")
    bad_kind = await upload(client, auth(), kind="../Etc")
    assert_problem(bad_kind, 422, "invalid-upload")
    unknown = await upload(client, auth(), tenant="other")
    assert_problem(unknown, 422, "invalid-upload")
    no_file = await client.post("/v1/documents", headers=auth(), data={"kind": "x"}, files={})
    assert no_file.status_code in (415, 422)
    assert no_file.headers["content-type"] == "application/problem+json"
    json_body = await client.post("/v1/documents", headers=auth(), json={"kind": "x"})
    assert_problem(json_body, 415, "multipart-required")
    other_owner = await upload(client, auth(), owner="citizen-2")
    assert_problem(other_owner, 403, "not-allowed")
    truncated = await client.post(
        "/v1/documents",
        headers=auth() | {"Content-Type": "multipart/form-data; boundary=XYZ"},
        content=b'--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n" + PDF,
    )
    assert_problem(truncated, 422, "invalid-upload")
    await assert_nothing_kept(storage, s3, tenant)


async def test_rules_are_per_tenant_and_for_the_commune_only(app, auth, admin, tenant):
    client, _ = app
    defaults = (await client.get("/v1/rules", headers=auth())).json()
    assert defaults["custom"] is False and defaults["tenant"] == tenant
    assert "application/pdf" in defaults["allowed_content_types"]
    rules = {
        "max_size_bytes": 1000,
        "allowed_content_types": ["application/pdf"],
        "default_retention_days": 30,
        "retention_days": {"id-card": 365},
    }
    assert_problem(await client.put("/v1/rules", headers=auth(), json=rules), 403, "not-allowed")
    agent = auth(subject="agent-1", roles=("agent",))
    assert_problem(await client.put("/v1/rules", headers=agent, json=rules), 403, "not-allowed")
    saved = await client.put("/v1/rules", headers=admin, json=rules)
    assert saved.json() == rules | {"tenant": tenant, "custom": True}
    other = await client.get("/v1/rules", headers=auth(for_tenant=tenant + "b"))
    assert other.json()["custom"] is False
    bad = await client.put("/v1/rules", headers=admin, json=rules | {"max_size_bytes": -1})
    assert_problem(bad, 422, "validation-error")
    card = await upload(client, auth(), PDF[:900], kind="id-card")
    assert card.status_code == 201
    assert card.json()["retention_until"] > card.json()["created_at"]


@pytest.mark.parametrize(
    "types",
    [
        [""],
        ["  "],
        ["not a type"],
        ["application/pdf", "pdf"],
        ["text/plain; charset=utf-8"],
        ["*/*"],
        ["image/"],
        ["a" * 300 + "/pdf"],
        ["application/pdf\r\nX: 1"],
    ],
)
async def test_rules_with_a_type_that_is_no_media_type_are_refused_and_uploads_go_on(
    app, auth, admin, types
):
    client, _ = app
    rules = {
        "max_size_bytes": 1024 * 1024,
        "allowed_content_types": types,
        "default_retention_days": 30,
    }
    problem = assert_problem(
        await client.put("/v1/rules", headers=admin, json=rules), 422, "validation-error"
    )
    assert any(e["field"].startswith("body.allowed_content_types") for e in problem["errors"])
    assert (await client.get("/v1/rules", headers=auth())).json()["custom"] is False
    assert (await upload(client, auth())).status_code == 201


async def test_rules_types_are_normalised_and_retention_is_bounded(app, auth, admin):
    client, _ = app
    rules = {
        "max_size_bytes": 1024 * 1024,
        "allowed_content_types": [" Application/PDF ", "application/pdf", "image/png"],
        "default_retention_days": 30,
    }
    saved = await client.put("/v1/rules", headers=admin, json=rules)
    assert saved.status_code == 200, saved.text
    assert saved.json()["allowed_content_types"] == ["application/pdf", "image/png"]
    for days in (10**12, 36501, -1):
        too_long = rules | {"retention_days": {"plan": days}}
        assert_problem(
            await client.put("/v1/rules", headers=admin, json=too_long), 422, "validation-error"
        )
    assert (await upload(client, auth(), kind="plan")).status_code == 201


@pytest.mark.parametrize("version", [2**63, 2**63 - 1, 2**31, 10**30, 0, -1])
async def test_a_version_number_beyond_the_column_is_a_422(app, auth, version):
    client, _ = app
    doc = (await upload(client, auth())).json()
    content = await client.get(
        f"/v1/documents/{doc['id']}/content", params={"version": version}, headers=auth()
    )
    assert_problem(content, 422, "validation-error")
    link = await client.post(
        f"/v1/documents/{doc['id']}/links", json={"version": version}, headers=auth()
    )
    assert_problem(link, 422, "validation-error")
    missing = await client.get(
        f"/v1/documents/{doc['id']}/content", params={"version": 2**31 - 1}, headers=auth()
    )
    assert_problem(missing, 404, "version-not-found")


def forged(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        forged("9999-12-31T23:59:59-05:00|ffff"),
        forged("0001-01-01T00:00:00+14:00|0000"),
        forged("2026-01-01T24:00:00+00:00|x"),
        forged("2026-01-01T00:00:00|x"),
        "%%%",
        "é" * 10,
    ],
)
async def test_a_forged_list_cursor_is_a_422(app, auth, cursor):
    client, _ = app
    response = await client.get("/v1/documents", params={"cursor": cursor}, headers=auth())
    assert_problem(response, 422, "invalid-cursor")


async def test_the_last_instant_of_9999_is_a_correct_page(app, auth):
    client, _ = app
    await upload(client, auth())
    cursor = forged("9999-12-31T23:59:59.999999+00:00|ffffffff")
    page = await client.get("/v1/documents", params={"cursor": cursor}, headers=auth())
    assert page.status_code == 200 and len(page.json()["items"]) == 1


@pytest.mark.parametrize("last", ["\u00b2", "9" * 40, "-1", "\uff11\uff12"])
async def test_a_forged_access_log_cursor_is_a_422(app, auth, last):
    client, _ = app
    doc = (await upload(client, auth())).json()
    response = await client.get(
        f"/v1/documents/{doc['id']}/access-log", params={"cursor": forged(last)}, headers=auth()
    )
    assert_problem(response, 422, "invalid-cursor")


@pytest.mark.parametrize(
    "expires_at",
    ["2030-01-01T00:00:00", "9999-12-31T23:59:59-05:00", "10000-01-01T00:00:00Z"],
)
async def test_a_grant_expiry_without_zone_or_beyond_9999_is_a_422(app, auth, expires_at):
    client, _ = app
    doc = (await upload(client, auth())).json()
    response = await client.post(
        f"/v1/documents/{doc['id']}/grants",
        json={"grantee_type": "agents", "expires_at": expires_at},
        headers=auth(),
    )
    assert_problem(response, 422, "validation-error")
