"""A commune declares its procedures through the admin API."""

from __future__ import annotations

from socle_dev.testing import assert_problem
from tests.support.procedures import example


async def test_an_invalid_definition_is_refused_with_pointers(platform):
    broken = example("building-permit")
    broken["steps"][2]["fields"][0]["type"] = "hologram"
    checked = await platform.api.post(
        "/v1/procedures/validate", json=broken, headers=platform.admin()
    )
    assert checked.status_code == 200
    assert checked.json()["valid"] is False
    assert "/steps/2/fields/0/type" in [e["pointer"] for e in checked.json()["errors"]]
    refused = await platform.api.post("/v1/procedures", json=broken, headers=platform.admin())
    body = assert_problem(refused, 422, "invalid-definition")
    assert "/steps/2/fields/0/type" in [e["pointer"] for e in body["errors"]]


async def test_publish_a_version_list_and_retire(platform):
    first = await platform.publish("dog-registration")
    assert (first["slug"], first["version"], first["status"]) == (
        "dog-registration",
        1,
        "published",
    )
    again = await platform.api.post(
        "/v1/procedures/dog-registration/versions/1/publish", headers=platform.admin()
    )
    assert_problem(again, 409, "already-published")
    second = await platform.publish("dog-registration")
    assert second["version"] == 2
    listed = await platform.api.get("/v1/procedures", headers=platform.admin())
    statuses = {(p["version"], p["status"]) for p in listed.json()["items"]}
    assert statuses == {(1, "superseded"), (2, "published")}
    citizen_view = await platform.api.get("/v1/procedures", headers=platform.auth())
    assert [(p["slug"], p["version"]) for p in citizen_view.json()["items"]] == [
        ("dog-registration", 2)
    ]
    retired = await platform.api.post(
        "/v1/procedures/dog-registration/retire", headers=platform.admin()
    )
    assert retired.status_code == 200
    start = await platform.api.post(
        "/v1/requests", json={"procedure": "dog-registration"}, headers=platform.auth()
    )
    assert_problem(start, 409, "procedure-retired")


async def test_a_citizen_cannot_declare_and_another_commune_sees_nothing(platform, tenant):
    refused = await platform.api.post(
        "/v1/procedures", json=example("dog-registration"), headers=platform.auth()
    )
    assert_problem(refused, 403, "insufficient-scope")
    await platform.publish("dog-registration")
    other = await platform.api.get(
        "/v1/procedures/dog-registration", headers=platform.auth(tenant="elsewhere")
    )
    assert_problem(other, 404, "procedure-not-found")
