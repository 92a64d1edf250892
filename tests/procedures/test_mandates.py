"""Digital mediation through the API: a mediator files for a citizen under a mandate the
citizen confirms by the e-mailed link (or a paper mandate); the citizen sees the request and
revokes; a mediator without a live mandate gets 404, at once after a revocation."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from socle.account_mails import AccountMailGone
from socle_dev.events import EventRecorder
from socle_dev.testing import assert_problem
from tests.support.procedures import HOLDER


def mediator(platform: Any, name: str = "mediator-1") -> dict[str, str]:
    return platform.auth(name, roles=("mediator",), name="Léa Médiatrice")


async def start(platform: Any, headers: dict[str, str], **extra: Any) -> Any:
    return await platform.api.post(
        "/v1/mandates",
        json={
            "procedure": "parking-card",
            "citizen_name": "Anna Muster",
            "citizen_email": "anna@example.ch",
        }
        | extra,
        headers=headers,
    )


async def test_a_mediator_files_for_a_citizen_who_confirms_then_revokes(platform, nats_server):
    await platform.publish("parking-card")
    async with EventRecorder(nats_server.url, tenant=platform.tenant) as tap:
        started = await start(platform, mediator(platform))
        assert started.status_code == 201, started.text
        asked = (await tap.wait_for("procedure.mandate.requested"))[0]
        assert "email" not in asked["data"] and "url" not in asked["data"]  # not on the bus
        mail = await tap.secret_mail(asked)  # what notify gets when it mails
    body = started.json()
    mandate, rid = body["mandate"], body["request"]["id"]
    assert mandate["status"] == "pending"
    assert mandate["filed_by"] == "filed by Léa Médiatrice for Anna Muster"
    assert mail["email"] == "anna@example.ch"
    link = urlsplit(mail["url"])
    assert link.path == f"/mandates/{mandate['id']}"
    token = parse_qs(link.query)["token"][0]

    # Not confirmed yet: the mediator does not reach the request.
    step = f"/v1/requests/{rid}/steps/holder"
    early = await platform.api.put(step, json={"answers": HOLDER}, headers=mediator(platform))
    assert_problem(early, 404, "request-not-found")
    wrong = await platform.api.post(
        f"/v1/mandates/{mandate['id']}/confirm",
        json={"token": "x" * 40},
        headers=platform.auth("anna"),
    )
    assert_problem(wrong, 404, "mandate-not-found")
    confirmed = await platform.api.post(
        f"/v1/mandates/{mandate['id']}/confirm",
        json={"token": token},
        headers=platform.auth("anna"),
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "live"

    saved = await platform.api.put(step, json={"answers": HOLDER}, headers=mediator(platform))
    assert saved.status_code == 200, saved.text
    mine = await platform.api.get("/v1/requests", headers=platform.auth("anna"))
    assert [r["id"] for r in mine.json()["items"]] == [rid]
    given = await platform.api.get("/v1/mandates", headers=platform.auth("anna"))
    assert [m["status"] for m in given.json()["items"]] == ["live"]

    # Someone else's mediator, and a stranger, cannot revoke or reach it.
    other = mediator(platform, "mediator-2")
    assert_problem(
        await platform.api.get(f"/v1/requests/{rid}", headers=other), 404, "request-not-found"
    )
    assert_problem(
        await platform.api.post(f"/v1/mandates/{mandate['id']}/revoke", headers=other),
        404,
        "mandate-not-found",
    )
    revoked = await platform.api.post(
        f"/v1/mandates/{mandate['id']}/revoke", headers=platform.auth("anna")
    )
    assert revoked.json()["status"] == "revoked"
    after = await platform.api.put(step, json={"answers": HOLDER}, headers=mediator(platform))
    assert_problem(after, 404, "request-not-found")
    listed = await platform.api.get("/v1/requests", headers=mediator(platform))
    assert listed.json()["items"] == []
    history = (await platform.api.get(f"/v1/requests/{rid}", headers=platform.auth("anna"))).json()
    assert [h["action"] for h in history["history"] if h["action"]] == [
        "mandate_pending",
        "mandate_confirmed",
        "mandate_revoked",
    ]
    again = await platform.api.post(
        f"/v1/mandates/{mandate['id']}/confirm",
        json={"token": token},
        headers=platform.auth("anna"),
    )
    assert_problem(again, 409, "mandate-revoked")


async def test_only_a_mediator_files_for_someone_and_a_paper_mandate_must_be_one(platform):
    await platform.publish("parking-card")
    assert_problem(await start(platform, platform.auth("citizen-1")), 403, "not-a-mediator")
    assert_problem(await start(platform, platform.staff()), 403, "not-a-mediator")
    # storage does not know this document: not a paper mandate (storage unreachable: 503)
    refused = await start(platform, mediator(platform), paper_mandate_document_id="nope")
    assert refused.status_code in (422, 503), refused.text


async def test_a_paper_mandate_is_live_at_once(platform):
    from socle.auth import Principal
    from socle_procedures import mandates

    await platform.publish("parking-card")
    who = Principal(
        subject="mediator-1",
        tenant=platform.tenant,
        client_id="portal",
        scopes=frozenset({"procedures:write"}),
        roles=frozenset({"mediator"}),
    )
    async with platform.app.state.runtime.sessions() as session, session.begin():
        with_wrong_kind = None
        try:
            await mandates.start(
                session,
                who,
                "parking-card",
                citizen_name="A",
                citizen_email="a@example.ch",
                locale="fr",
                paper={"id": "doc-1", "kind": "invoice"},
            )
        except mandates.InvalidMandate as exc:
            with_wrong_kind = exc
        assert with_wrong_kind is not None
    async with platform.app.state.runtime.sessions() as session, session.begin():
        mandate, loaded = await mandates.start(
            session,
            who,
            "parking-card",
            citizen_name="A",
            citizen_email="a@example.ch",
            locale="fr",
            paper={"id": "doc-1", "kind": "mandate"},
        )
        rid = loaded.request.id
        assert (mandate.status, mandate.kind, mandate.document_id) == ("live", "paper", "doc-1")
    reached = await platform.api.get(
        f"/v1/requests/{rid}", headers=platform.auth("mediator-1", roles=("mediator",))
    )
    assert reached.status_code == 200, reached.text


async def test_the_citizen_confirms_and_revokes_on_the_portal(platform, nats_server):
    import re

    from tests.support.html import csrf_of
    from tests.support.procedures import logged_in

    await platform.publish("parking-card")
    async with EventRecorder(nats_server.url, tenant=platform.tenant) as tap:
        started = await start(platform, mediator(platform))
        asked = (await tap.wait_for("procedure.mandate.requested"))[0]
        link = urlsplit((await tap.secret_mail(asked))["url"])
    mandate_id, rid = started.json()["mandate"]["id"], started.json()["request"]["id"]
    anonymous = await platform.api.get(f"{link.path}?{link.query}")
    assert anonymous.status_code == 303 and "/auth/login" in anonymous.headers["location"]
    anna = await logged_in(platform, "anna", roles=("citizen",))
    offer = await platform.api.get(f"{link.path}?{link.query}", cookies=anna)
    assert offer.status_code == 200, offer.text
    assert "Léa Médiatrice" in offer.text and "Anna Muster" in offer.text
    token = re.search(r'name="token" value="([^"]+)"', offer.text)
    assert token
    confirmed = await platform.api.post(
        f"/mandates/{mandate_id}/confirm",
        data={"csrf_token": csrf_of(offer.text), "token": token[1]},
        cookies=anna,
    )
    assert confirmed.status_code == 303
    assert (
        await platform.api.get(f"/v1/requests/{rid}", headers=mediator(platform))
    ).status_code == 200
    staff_page = await platform.api.get(
        f"/back-office/requests/{rid}", cookies=await logged_in(platform, "agent-7")
    )
    assert staff_page.status_code == 404  # still a draft: the citizen's own business
    listing = await platform.api.get("/mandates", cookies=anna)
    assert "Filed by Léa Médiatrice for Anna Muster" in listing.text
    revoked = await platform.api.post(
        f"/mandates/{mandate_id}/revoke", data={"csrf_token": csrf_of(listing.text)}, cookies=anna
    )
    assert revoked.status_code == 303
    assert (
        await platform.api.get(f"/v1/requests/{rid}", headers=mediator(platform))
    ).status_code == 404
    stranger = await logged_in(platform, "citizen-9", roles=("citizen",))
    assert (await platform.api.get(f"{link.path}?token=wrong", cookies=stranger)).status_code == 404


async def test_a_mediator_files_from_the_portal_and_continues_once_confirmed(platform, nats_server):
    from tests.support.html import csrf_of
    from tests.support.procedures import logged_in

    await platform.publish("parking-card")
    lea = await logged_in(platform, "mediator-1", roles=("mediator",))
    form = await platform.api.get("/mandates/new", cookies=lea)
    assert form.status_code == 200, form.text
    assert 'value="parking-card"' in form.text
    bad = await platform.api.post(
        "/mandates/new",
        data={"csrf_token": csrf_of(form.text), "procedure": "parking-card"},
        cookies=lea,
    )
    assert bad.status_code == 422
    async with EventRecorder(nats_server.url, tenant=platform.tenant) as tap:
        sent = await platform.api.post(
            "/mandates/new",
            data={
                "csrf_token": csrf_of(form.text),
                "procedure": "parking-card",
                "citizen_name": "Anna Muster",
                "citizen_email": "anna@example.ch",
            },
            cookies=lea,
        )
        assert sent.status_code == 201, sent.text
        event = (await tap.wait_for("procedure.mandate.requested"))[0]
        mail = await tap.secret_mail(event)
    rid, link = event["data"]["request_id"], urlsplit(mail["url"])
    assert (await platform.api.get(f"/requests/{rid}/check", cookies=lea)).status_code == 404
    api_confirm = await platform.api.post(
        f"/v1{link.path}/confirm",
        json={"token": parse_qs(link.query)["token"][0]},
        headers=platform.auth("anna"),
    )
    assert api_confirm.status_code == 200, api_confirm.text
    held = await platform.api.get("/mandates", cookies=lea)
    assert f'href="/requests/{rid}/check"' in held.text
    onward = await platform.api.get(f"/requests/{rid}/check", cookies=lea)
    assert onward.status_code == 303 and "/steps/" in onward.headers["location"]
    citizen = await logged_in(platform, "citizen-5", roles=("citizen",))
    assert (await platform.api.get("/mandates/new", cookies=citizen)).status_code == 403


async def test_the_confirmation_link_is_made_when_mailed_and_only_while_pending(
    platform, nats_server
):
    """The event carries no link: procedures makes one when notify asks, the last one made
    is the one that works, and none is made once the mandate is confirmed."""
    await platform.publish("parking-card")
    async with EventRecorder(nats_server.url, tenant=platform.tenant) as tap:
        started = await start(platform, mediator(platform))
        asked = (await tap.wait_for("procedure.mandate.requested"))[0]
    mandate_id = started.json()["mandate"]["id"]
    first = urlsplit((await tap.secret_mail(asked))["url"])
    second = urlsplit((await tap.secret_mail(asked))["url"])
    with pytest.raises(AccountMailGone):  # another tenant's request
        await tap.secret_mail({**asked, "tenant": "another-commune"})

    stale = await platform.api.post(
        f"/v1/mandates/{mandate_id}/confirm",
        json={"token": parse_qs(first.query)["token"][0]},
        headers=platform.auth("anna"),
    )
    assert_problem(stale, 404, "mandate-not-found")
    confirmed = await platform.api.post(
        f"/v1/mandates/{mandate_id}/confirm",
        json={"token": parse_qs(second.query)["token"][0]},
        headers=platform.auth("anna"),
    )
    assert confirmed.status_code == 200, confirmed.text
    with pytest.raises(AccountMailGone):
        await tap.secret_mail(asked)


async def test_mandate_events_carry_no_name_or_address_and_the_mail_gets_them(
    platform, nats_server
):
    """``procedure.mandate.*`` names the mandate, the request and the mediator's subject;
    the names and the address are given to notify only when it mails."""
    await platform.publish("parking-card")
    async with EventRecorder(nats_server.url, tenant=platform.tenant) as tap:
        started = await start(platform, mediator(platform))
        assert started.status_code == 201, started.text
        asked = (await tap.wait_for("procedure.mandate.requested"))[0]
        mail = await tap.secret_mail(asked)
        token = parse_qs(urlsplit(mail["url"]).query)["token"][0]
        mandate_id = started.json()["mandate"]["id"]
        confirmed = await platform.api.post(
            f"/v1/mandates/{mandate_id}/confirm",
            json={"token": token},
            headers=platform.auth("anna"),
        )
        assert confirmed.status_code == 200, confirmed.text
        revoked = await platform.api.post(
            f"/v1/mandates/{mandate_id}/revoke", headers=platform.auth("anna")
        )
        assert revoked.status_code == 200, revoked.text
        changes = [
            (await tap.wait_for(f"procedure.mandate.{what}"))[0]
            for what in ("requested", "confirmed", "revoked")
        ]
    for event in changes:
        carried = json.dumps(event["data"], ensure_ascii=False)
        for personal in ("Anna", "Muster", "Léa", "Médiatrice", "anna@example.ch"):
            assert personal not in carried, event["type"]
        assert event["data"]["mandate_id"] == mandate_id
    assert mail["citizen_name"] == "Anna Muster"
    assert mail["mediator_name"] == "Léa Médiatrice"
    assert mail["email"] == "anna@example.ch"
