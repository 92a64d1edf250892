"""Whose documents, by ``Principal.owner``: every person who is not the commune's staff (a
citizen, a mediator, a person without any role) reaches only the documents it owns; only a
client acting for itself or an admin acts for the whole tenant."""

from __future__ import annotations

import pytest

from socle_dev.testing import assert_problem
from tests.support.storage import upload

RULES = {
    "max_size_bytes": 1024 * 1024,
    "allowed_content_types": ["application/pdf"],
    "default_retention_days": 30,
}


@pytest.mark.parametrize("roles", [(), ("mediator",), ("citizen", "mediator")])
async def test_a_person_without_a_staff_role_reaches_only_their_own(client, auth, service, roles):
    commune = (await upload(client, service)).json()
    anna = (await upload(client, auth(subject="citizen-anna"))).json()
    person = auth(subject="person-1", roles=roles)
    own = await upload(client, person)
    assert own.status_code == 201 and own.json()["owner"] == "person-1"

    listed = (await client.get("/v1/documents", headers=person)).json()["items"]
    assert [d["id"] for d in listed] == [own.json()["id"]]
    for other in (commune, anna):
        for path in ("", "/content", "/versions", "/grants", "/access-log"):
            response = await client.get(f"/v1/documents/{other['id']}{path}", headers=person)
            assert_problem(response, 404, "document-not-found")
        assert_problem(
            await client.delete(f"/v1/documents/{other['id']}", headers=person),
            404,
            "document-not-found",
        )
    # Nothing commune-wide: not the tenant's rules, not a legal hold, not someone's upload.
    assert_problem(await client.put("/v1/rules", headers=person, json=RULES), 403, "not-allowed")
    hold = await client.put(
        f"/v1/documents/{own.json()['id']}/legal-hold", headers=person, json={"hold": True}
    )
    assert_problem(hold, 403, "not-allowed")
    assert_problem(await upload(client, person, owner="citizen-anna"), 403, "not-allowed")
    # The commune's service still sees all three.
    every = (await client.get("/v1/documents", headers=service)).json()["items"]
    assert len(every) == 3


async def test_a_token_whose_subject_is_not_its_client_is_a_person(client, auth, service):
    """A token without roles is a service only when it is the client's own (sub = client_id)."""
    private = (await upload(client, auth(subject="citizen-anna"))).json()
    impostor = auth(subject="procedures-service", roles=(), client_id="portal")
    assert_problem(
        await client.get(f"/v1/documents/{private['id']}", headers=impostor),
        404,
        "document-not-found",
    )
    assert (await client.get(f"/v1/documents/{private['id']}", headers=service)).status_code == 200


async def test_one_persons_idempotency_key_never_meets_anothers(client, auth):
    key = {"Idempotency-Key": "my-upload"}
    anna = await upload(client, auth(subject="citizen-anna") | key)
    bruno = await upload(client, auth(subject="citizen-bruno") | key)
    assert anna.status_code == bruno.status_code == 201, bruno.text
    assert bruno.json()["owner"] == "citizen-bruno" and bruno.json()["id"] != anna.json()["id"]
    again = await upload(client, auth(subject="citizen-anna") | key)
    assert again.json()["id"] == anna.json()["id"]
