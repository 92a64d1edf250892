"""Communes share procedures: a tenant shares one, another adopts it (its own copy, linked to
the source version), adjusts its texts and fee, then takes the source's new version and
keeps them."""

from __future__ import annotations

from socle_dev.testing import assert_problem
from tests.support.procedures import example


async def publish(platform, document, tenant):
    created = await platform.api.post(
        "/v1/procedures", json=document, headers=platform.admin(tenant)
    )
    assert created.status_code == 201, created.text
    version = created.json()["version"]
    published = await platform.api.post(
        f"/v1/procedures/{document['slug']}/versions/{version}/publish",
        headers=platform.admin(tenant),
    )
    assert published.status_code == 200, published.text
    return published.json()


async def test_a_commune_adopts_a_shared_procedure_and_takes_its_new_version(platform):
    source, adopter = platform.tenant, platform.tenant + "-b"
    card = example("parking-card")
    await publish(platform, card, source)
    not_yet = await platform.api.post(
        f"/v1/catalogue/{source}/parking-card/adopt", headers=platform.admin(adopter)
    )
    assert_problem(not_yet, 404, "procedure-not-found")
    shared = await platform.api.post(
        "/v1/procedures/parking-card/share", headers=platform.admin(source)
    )
    assert shared.status_code == 200, shared.text

    seen = await platform.api.get("/v1/catalogue", headers=platform.admin(adopter))
    entry = next(e for e in seen.json()["items"] if e["tenant"] == source)
    assert entry["procedure"]["slug"] == "parking-card" and entry["adopted_as"] is None

    adopted = await platform.api.post(
        f"/v1/catalogue/{source}/parking-card/adopt",
        json={"slug": "carte-parking"},
        headers=platform.admin(adopter),
    )
    assert adopted.status_code == 201, adopted.text
    draft = adopted.json()
    assert (draft["slug"], draft["version"], draft["status"]) == ("carte-parking", 1, "draft")
    assert draft["definition"]["steps"] == card["steps"]

    # The adopter's own texts and fee, published.
    own = draft["definition"] | {
        "title": {**card["title"], "fr": "Carte de stationnement de B"},
        "fee": draft["definition"]["fee"] | {"unit_amount": 1500},
    }
    await publish(platform, own, adopter)
    assert (
        await platform.api.get("/v1/procedures/carte-parking", headers=platform.admin(adopter))
    ).json()["title"]["fr"] == "Carte de stationnement de B"

    # The source publishes a new version: the adopter sees it and takes it.
    newer = card | {"summary": {**card.get("summary", {}), "fr": "Nouveau"}}
    newer["steps"] = [*card["steps"]]
    newer["steps"][0] = {
        **card["steps"][0],
        "title": {**card["steps"][0]["title"], "fr": "Titulaire (v2)"},
    }
    await publish(platform, newer, source)
    seen = await platform.api.get("/v1/catalogue", headers=platform.admin(adopter))
    entry = next(e for e in seen.json()["items"] if e["tenant"] == source)
    assert entry["adopted_as"] == "carte-parking"
    assert entry["adopted_version"] == 1 and entry["update_available"] is True
    taken = await platform.api.post(
        f"/v1/catalogue/{source}/parking-card/adopt", headers=platform.admin(adopter)
    )
    assert taken.status_code == 201, taken.text
    third = taken.json()
    assert third["version"] == 3 and third["status"] == "draft"
    assert third["definition"]["steps"][0]["title"]["fr"] == "Titulaire (v2)"
    assert third["definition"]["title"]["fr"] == "Carte de stationnement de B"
    assert third["definition"]["fee"]["unit_amount"] == 1500
    seen = await platform.api.get("/v1/catalogue", headers=platform.admin(adopter))
    entry = next(e for e in seen.json()["items"] if e["tenant"] == source)
    assert entry["adopted_version"] == 2 and entry["update_available"] is False

    # The source's own requests and definitions are untouched by the adopter.
    mine = await platform.api.get("/v1/procedures/parking-card", headers=platform.admin(source))
    assert mine.json()["version"] == 2


async def test_adopting_over_an_own_procedure_or_as_a_citizen_is_refused(platform):
    source, adopter = platform.tenant, platform.tenant + "-c"
    await publish(platform, example("parking-card"), source)
    await platform.api.post("/v1/procedures/parking-card/share", headers=platform.admin(source))
    await publish(platform, example("parking-card"), adopter)
    clash = await platform.api.post(
        f"/v1/catalogue/{source}/parking-card/adopt", headers=platform.admin(adopter)
    )
    assert_problem(clash, 409, "already-published")
    citizen = await platform.api.post(
        f"/v1/catalogue/{source}/parking-card/adopt", headers=platform.auth(tenant=adopter)
    )
    assert citizen.status_code == 403
