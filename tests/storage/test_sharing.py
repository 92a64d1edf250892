"""Once-only: a stored document shared with another procedure or the commune's agents,
revocable and expiring; presigned links; the access log; idempotent POSTs."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import httpx

from socle import clock
from socle_dev.testing import assert_problem
from tests.support.storage import PDF, bucket_keys, upload


async def procedure_docs(client, headers, procedure: str) -> list[str]:
    page = await client.get("/v1/documents", headers=headers, params={"procedure": procedure})
    assert page.status_code == 200, page.text
    return [d["id"] for d in page.json()["items"]]


async def test_shared_with_a_second_procedure_without_a_second_upload(
    client, auth, service, bus, tenant
):
    doc = (await upload(client, auth(), kind="id-card", procedure="building-permit-1")).json()
    assert await procedure_docs(client, service, "parking-permit-7") == []

    grant = await client.post(
        f"/v1/documents/{doc['id']}/grants",
        headers=auth(),
        json={"grantee_type": "procedure", "procedure": "parking-permit-7"},
    )
    assert grant.status_code == 201, grant.text
    body = grant.json()
    assert body["document_id"] == doc["id"] and body["active"] is True
    assert body["grantee_type"] == "procedure" and body["procedure"] == "parking-permit-7"

    assert await procedure_docs(client, service, "parking-permit-7") == [doc["id"]]
    assert await procedure_docs(client, service, "building-permit-1") == [doc["id"]]
    # the second procedure reads the same bytes: nothing was uploaded twice
    content = await client.get(f"/v1/documents/{doc['id']}/content", headers=service)
    assert hashlib.sha256(content.content).hexdigest() == doc["sha256"]

    (event,) = await bus.wait_for("document.shared")
    assert bus.subject_of(event) == f"socle.{tenant}.document.shared"
    assert event["data"] == {
        "document_id": doc["id"],
        "kind": "id-card",
        "owner": "citizen-1",
        "procedure": "building-permit-1",
        "grant_id": body["id"],
        "grantee_type": "procedure",
        "grantee_procedure": "parking-permit-7",
        "expires_at": None,
    }

    revoked = await client.delete(f"/v1/documents/{doc['id']}/grants/{body['id']}", headers=auth())
    assert revoked.status_code == 204
    assert await procedure_docs(client, service, "parking-permit-7") == []
    grants = (await client.get(f"/v1/documents/{doc['id']}/grants", headers=auth())).json()
    assert grants["items"][0]["active"] is False and grants["items"][0]["revoked_at"]


async def test_agents_see_a_private_document_only_once_shared_and_until_it_expires(client, auth):
    agent = auth(subject="agent-1", roles=("agent",))
    doc = (await upload(client, auth())).json()
    assert_problem(
        await client.get(f"/v1/documents/{doc['id']}", headers=agent), 404, "document-not-found"
    )
    expires = datetime.now(UTC) + timedelta(hours=1)
    grant = await client.post(
        f"/v1/documents/{doc['id']}/grants",
        headers=auth(),
        json={"grantee_type": "agents", "expires_at": expires.isoformat()},
    )
    assert grant.status_code == 201, grant.text
    seen = await client.get(f"/v1/documents/{doc['id']}/content", headers=agent)
    assert seen.content == PDF
    with clock.advanced(hours=1, seconds=1):
        assert_problem(
            await client.get(f"/v1/documents/{doc['id']}", headers=agent), 404, "document-not-found"
        )


async def test_who_may_share_and_bad_grants(client, auth):
    doc = (await upload(client, auth())).json()
    url = f"/v1/documents/{doc['id']}/grants"
    other = await client.post(
        url, headers=auth(subject="citizen-2"), json={"grantee_type": "agents"}
    )
    assert_problem(other, 404, "document-not-found")
    no_proc = await client.post(url, headers=auth(), json={"grantee_type": "procedure"})
    assert_problem(no_proc, 422, "procedure-required")
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    expired = await client.post(
        url, headers=auth(), json={"grantee_type": "agents", "expires_at": past}
    )
    assert_problem(expired, 422, "grant-expired")
    unknown = await client.post(url, headers=auth(), json={"grantee_type": "everyone"})
    assert_problem(unknown, 422, "validation-error")
    missing = await client.delete(f"{url}/{'0' * 32}", headers=auth())
    assert_problem(missing, 404, "grant-not-found")


async def test_presigned_link_is_fetched_with_a_plain_http_client(client, auth, service):
    doc = (await upload(client, auth(), filename="Attestation été.pdf")).json()
    response = await client.post(f"/v1/documents/{doc['id']}/links", headers=auth(), json={})
    assert response.status_code == 201, response.text
    link = response.json()
    assert link["version"] == 1
    expires = datetime.fromisoformat(link["expires_at"])
    assert timedelta(seconds=250) < expires - datetime.now(UTC) <= timedelta(seconds=300)
    async with httpx.AsyncClient() as plain:
        fetched = await plain.get(link["url"])
    assert fetched.status_code == 200
    assert fetched.content == PDF
    assert "attachment" in fetched.headers["content-disposition"]
    other = await client.post(
        f"/v1/documents/{doc['id']}/links", headers=auth(subject="citizen-2"), json={}
    )
    assert_problem(other, 404, "document-not-found")


async def test_every_read_of_content_is_in_the_access_log(client, auth, service, tenant):
    doc = (await upload(client, auth())).json()
    await client.get(f"/v1/documents/{doc['id']}/content", headers=auth())
    await client.get(f"/v1/documents/{doc['id']}/content", headers=service)
    await client.post(f"/v1/documents/{doc['id']}/links", headers=service, json={})
    await client.get(f"/v1/documents/{doc['id']}", headers=service)  # metadata: not logged

    log = (await client.get(f"/v1/documents/{doc['id']}/access-log", headers=auth())).json()
    entries = [(e["action"], e["subject"], e["version"]) for e in log["items"]]
    assert entries == [
        ("link", "procedures-service", 1),
        ("content", "procedures-service", 1),
        ("content", "citizen-1", 1),
    ]
    assert log["items"][-1]["roles"] == ["citizen"]
    first = (
        await client.get(
            f"/v1/documents/{doc['id']}/access-log", headers=service, params={"limit": 2}
        )
    ).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = await client.get(
        f"/v1/documents/{doc['id']}/access-log",
        headers=service,
        params={"limit": 2, "cursor": first["next_cursor"]},
    )
    assert [e["subject"] for e in rest.json()["items"]] == ["citizen-1"]
    other = await client.get(
        f"/v1/documents/{doc['id']}/access-log", headers=auth(subject="citizen-2")
    )
    assert_problem(other, 404, "document-not-found")


async def test_idempotent_upload_and_grant(client, auth, bus, s3, tenant):
    key = {"Idempotency-Key": "upload-1"}
    first = await upload(client, auth() | key)
    again = await upload(client, auth() | key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    other_body = await upload(client, auth() | key, PDF + b"\n")
    assert_problem(other_body, 422, "idempotency-key-reused")
    listed = (await client.get("/v1/documents", headers=auth())).json()["items"]
    assert [d["id"] for d in listed] == [first.json()["id"]]
    assert len(bucket_keys(s3, tenant)) == 1  # the replayed upload's bytes were not kept

    url = f"/v1/documents/{first.json()['id']}/grants"
    body = {"grantee_type": "procedure", "procedure": "p-2"}
    g1 = await client.post(url, headers=auth() | {"Idempotency-Key": "g"}, json=body)
    g2 = await client.post(url, headers=auth() | {"Idempotency-Key": "g"}, json=body)
    assert g1.json() == g2.json()
    assert len((await client.get(url, headers=auth())).json()["items"]) == 1
    # a marker recorded after the replays: once it is on the bus, a duplicate would be too
    marker = {"grantee_type": "procedure", "procedure": "p-marker"}
    last = await client.post(url, headers=auth() | {"Idempotency-Key": "m"}, json=marker)
    assert last.status_code == 201, last.text
    shared = await bus.wait_for("document.shared", 2)
    assert [e["data"]["grantee_procedure"] for e in shared] == ["p-2", "p-marker"]
    assert len(bus.of_type("document.uploaded")) == 1
