"""Retention purge (job and command), virus scanning with quarantine."""

from __future__ import annotations

import os
import subprocess
import sys

from socle_dev.testing import assert_problem
from socle_storage.purge import purge_once
from tests.support.clamd_standin import EICAR
from tests.support.storage import PDF, RULES, bucket_keys, upload


async def test_purge_removes_expired_documents_and_their_bytes(
    started, auth, admin, bus, s3, tenant
):
    async with started() as (client, storage):
        assert (await client.put("/v1/rules", headers=admin, json=RULES)).status_code == 200
        expired = (await upload(client, auth(), kind="temporary-proof")).json()
        assert expired["retention_until"] == expired["created_at"]
        versioned = await client.put(
            f"/v1/documents/{expired['id']}/content",
            headers=auth(),
            files={"file": ("v2.pdf", PDF + b"\n", "application/pdf")},
        )
        assert versioned.status_code == 200
        held = (await upload(client, auth(), kind="temporary-proof")).json()
        await client.put(
            f"/v1/documents/{held['id']}/legal-hold", headers=admin, json={"hold": True}
        )
        kept = (await upload(client, auth(), kind="building-plan")).json()
        assert len(bucket_keys(s3, tenant)) == 4

        report = await purge_once(storage)
        assert report.purged >= 1

        assert_problem(
            await client.get(f"/v1/documents/{expired['id']}", headers=admin),
            404,
            "document-not-found",
        )
        listed = {
            d["id"] for d in (await client.get("/v1/documents", headers=auth())).json()["items"]
        }
        assert listed == {held["id"], kept["id"]}
        keys = bucket_keys(s3, tenant)
        assert len(keys) == 2 and not any(expired["id"] in k for k in keys)
        (event,) = await bus.wait_for("document.purged")
        assert event["data"] == {
            "document_id": expired["id"],
            "kind": "temporary-proof",
            "owner": "citizen-1",
            "procedure": None,
            "reason": "retention",
        }

        # lifting the hold lets the next run purge it
        await client.put(
            f"/v1/documents/{held['id']}/legal-hold", headers=admin, json={"hold": False}
        )
        await purge_once(storage)
        assert (await client.get(f"/v1/documents/{held['id']}", headers=admin)).status_code == 404


async def test_deleted_documents_are_purged_after_the_grace_period(
    started, auth, admin, bus, s3, tenant
):
    async with started(deleted_grace_seconds=0) as (client, storage):
        doc = (await upload(client, auth())).json()
        assert (
            await client.delete(f"/v1/documents/{doc['id']}", headers=auth())
        ).status_code == 204
        await purge_once(storage)
        assert (await client.get(f"/v1/documents/{doc['id']}", headers=admin)).status_code == 404
        assert bucket_keys(s3, tenant) == []
        (event,) = await bus.wait_for("document.purged")
        assert event["data"]["reason"] == "deleted"


async def test_purge_command(settings_for, started, auth, admin, s3, tenant, s3_server):
    async with started() as (client, _):
        await client.put("/v1/rules", headers=admin, json=RULES)
        doc = (await upload(client, auth(), kind="temporary-proof")).json()
    settings = settings_for()
    env = os.environ | {
        "SOCLE_DATABASE_URL": settings.database_url,
        "SOCLE_S3_ENDPOINT": s3_server.endpoint,
        "SOCLE_S3_ACCESS_KEY": s3_server.access_key,
        "SOCLE_S3_SECRET_KEY": s3_server.secret_key,
    }
    done = subprocess.run(
        [sys.executable, "-m", "socle_storage", "purge"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "purged" in done.stdout
    assert not any(doc["id"] in k for k in bucket_keys(s3, tenant))
    async with started() as (client, _):
        assert (await client.get(f"/v1/documents/{doc['id']}", headers=admin)).status_code == 404


async def test_eicar_is_quarantined(started, auth, admin, bus, clamd, tenant):
    async with started(clamd_url=clamd.url) as (client, _):
        streams = clamd.streams
        clean = await upload(client, auth())
        assert clean.status_code == 201
        assert clamd.streams == streams + 1  # scanned on the way to the store

        infected = await upload(
            client, auth(), EICAR, filename="readme.txt", content_type="text/plain"
        )
        body = assert_problem(infected, 422, "document-infected")
        document_id = body["document_id"]
        meta = (await client.get(f"/v1/documents/{document_id}", headers=admin)).json()
        assert meta["status"] == "quarantined"
        content = await client.get(f"/v1/documents/{document_id}/content", headers=auth())
        assert_problem(content, 409, "document-quarantined")
        link = await client.post(f"/v1/documents/{document_id}/links", headers=auth(), json={})
        assert_problem(link, 409, "document-quarantined")
        (event,) = await bus.wait_for("document.quarantined")
        assert event["data"] == {
            "document_id": document_id,
            "kind": "building-plan",
            "owner": "citizen-1",
            "procedure": None,
            "version": 1,
            "signature": "Eicar-Test-Signature",
        }
        assert bus.of_type("document.uploaded")[0]["data"]["document_id"] == clean.json()["id"]

        # a new version carrying EICAR is quarantined, the clean version stays current
        doc_id = clean.json()["id"]
        bad_version = await client.put(
            f"/v1/documents/{doc_id}/content",
            headers=auth(),
            files={"file": ("v2.txt", b"note " + EICAR, "text/plain")},
        )
        assert_problem(bad_version, 422, "document-infected")
        current = await client.get(f"/v1/documents/{doc_id}/content", headers=auth())
        assert current.content == PDF
        versions = (await client.get(f"/v1/documents/{doc_id}/versions", headers=auth())).json()
        assert [v["status"] for v in versions["items"]] == ["active", "quarantined"]


async def test_scanner_down_keeps_nothing(started, auth, s3, tenant):
    async with started(clamd_url="tcp://127.0.0.1:9") as (client, _):
        response = await upload(client, auth())
        assert_problem(response, 503, "scanner-unavailable")
        assert (await client.get("/v1/documents", headers=auth())).json()["items"] == []
        assert bucket_keys(s3, tenant) == []
