"""The commune's back-office actions through the API: take, review, ask the citizen for
information (only those fields reopen), approve, reject, reopen; notes for staff only; two
agents at once; another commune's agent and the citizen as attackers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from socle import clock
from socle_dev.events import EventRecorder
from socle_dev.testing import assert_problem
from socle_procedures import decisions
from socle_procedures.models import Request
from socle_procedures.requests import Loaded
from tests.support.procedures import VEHICLE, agent, submitted_parking


async def act(platform: Any, rid: str, headers: dict[str, str], **body: Any) -> Any:
    return await platform.api.post(f"/v1/requests/{rid}/actions", json=body, headers=headers)


async def test_an_agent_asks_for_a_correction_and_decides(platform, nats_server):
    await platform.publish("parking-card")
    rid = (await submitted_parking(platform))["id"]
    staff = agent(platform)
    taken = await act(platform, rid, staff, action="take", comment="mine")
    assert taken.status_code == 200, taken.text
    assert taken.json()["assigned_to"] == "agent-7"
    assert (await act(platform, rid, staff, action="in_review")).status_code == 200
    async with EventRecorder(nats_server.url, tenant=platform.tenant) as tap:
        asked = await act(
            platform,
            rid,
            staff,
            action="request_information",
            fields=["plate"],
            comment="The plate is not readable.",
        )
        assert asked.status_code == 200, asked.text
        event = (await tap.wait_for("procedure.request.information_requested"))[0]
    assert event["data"]["fields"] == [
        {"id": "plate", "label": event["data"]["fields"][0]["label"]}
    ]
    assert event["data"]["message"] == "The plate is not readable."
    assert "email" not in event["data"]  # notify asks procedures for the address
    assert (await tap.secret_mail(event)) == {"email": "anna@example.ch"}
    assert event["data"]["url"].endswith(f"/requests/{rid}")
    assert event["data"]["locale"] == "fr"

    citizen = platform.auth()
    other_field = await platform.api.put(
        f"/v1/requests/{rid}/steps/vehicle",
        json={"answers": VEHICLE | {"zone": "B"}},
        headers=citizen,
    )
    assert_problem(other_field, 409, "request-not-editable")
    fixed = await platform.api.put(
        f"/v1/requests/{rid}/steps/vehicle",
        json={"answers": VEHICLE | {"plate": "VD 54321"}},
        headers=citizen,
    )
    assert fixed.status_code == 200, fixed.text
    again = await platform.api.post(f"/v1/requests/{rid}/submit", headers=citizen)
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "in_review"
    assert again.json()["editable_fields"] is None

    no_reason = await act(platform, rid, staff, action="reject")
    assert_problem(no_reason, 422, "invalid-action")
    approved = await act(platform, rid, staff, action="approve", comment="fine")
    assert approved.json()["state"] == "approved"
    reopened = await act(platform, rid, staff, action="reopen", comment="wrong zone")
    assert reopened.json()["state"] == "in_review"
    rejected = await act(platform, rid, staff, action="reject", comment="zone A is full")
    body = rejected.json()
    assert body["state"] == "rejected"
    actions = [(h["action"], h["from_state"], h["to_state"]) for h in body["history"]]
    assert actions[-7:] == [
        ("take", "submitted", "submitted"),
        ("in_review", "submitted", "in_review"),
        ("request_information", "in_review", "information_requested"),
        (None, "information_requested", "in_review"),
        ("approve", "in_review", "approved"),
        ("reopen", "approved", "in_review"),
        ("reject", "in_review", "rejected"),
    ]
    assert body["history"][-7]["changes"] == {"assigned_to": {"before": None, "after": "agent-7"}}
    assert body["history"][-1]["note"] == "zone A is full"
    assert body["history"][-1]["actor"] == "agent-7"


async def test_an_action_not_allowed_names_the_allowed_ones(platform):
    await platform.publish("parking-card")
    rid = (await submitted_parking(platform))["id"]
    early = await act(platform, rid, agent(platform), action="approve")
    problem = assert_problem(early, 409, "action-not-allowed")
    assert problem["errors"][0]["allowed"] == ["take", "assign", "in_review"]
    stale = await act(platform, rid, agent(platform), action="take", expected_state="in_review")
    assert_problem(stale, 409, "action-not-allowed")
    unknown_field = await act(platform, rid, agent(platform), action="in_review")
    assert unknown_field.status_code == 200
    bad = await act(
        platform, rid, agent(platform), action="request_information", fields=["nope"], comment="x"
    )
    assert_problem(bad, 422, "invalid-action")


async def test_two_agents_at_once_one_wins_the_other_is_told(platform):
    await platform.publish("parking-card")
    rid = (await submitted_parking(platform))["id"]
    await act(platform, rid, agent(platform), action="in_review")
    first, second = await asyncio.gather(
        act(
            platform, rid, agent(platform, "agent-1"), action="approve", expected_state="in_review"
        ),
        act(
            platform,
            rid,
            agent(platform, "agent-2"),
            action="reject",
            comment="no",
            expected_state="in_review",
        ),
    )
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [200, 409], (first.text, second.text)
    loser = first if first.status_code == 409 else second
    assert loser.json()["errors"][0]["allowed"] == ["reopen"]
    history = (await platform.api.get(f"/v1/requests/{rid}", headers=agent(platform))).json()
    decisions = [h for h in history["history"] if h["action"] in ("approve", "reject")]
    assert len(decisions) == 1


async def test_the_back_office_dates_what_it_does_by_the_clock(platform):
    await platform.publish("parking-card")
    rid = (await submitted_parking(platform))["id"]
    staff = agent(platform)
    with clock.advanced(days=30):
        moved = clock.now()
        taken = await act(platform, rid, staff, action="take")
        note = await platform.api.post(
            f"/v1/requests/{rid}/notes", json={"text": "a month later"}, headers=staff
        )
    assert taken.status_code == 200 and note.status_code == 201, (taken.text, note.text)
    taken_at = datetime.fromisoformat(taken.json()["history"][-1]["at"])
    assert moved <= taken_at < moved + timedelta(days=1)
    assert moved <= datetime.fromisoformat(taken.json()["updated_at"]) < moved + timedelta(days=1)
    assert moved <= datetime.fromisoformat(note.json()["at"]) < moved + timedelta(days=1)


async def test_notes_are_for_staff_only_and_communes_are_apart(platform):
    await platform.publish("parking-card")
    rid = (await submitted_parking(platform))["id"]
    noted = await platform.api.post(
        f"/v1/requests/{rid}/notes", json={"text": "neighbour complained"}, headers=agent(platform)
    )
    assert noted.status_code == 201, noted.text
    listed = await platform.api.get(f"/v1/requests/{rid}/notes", headers=agent(platform))
    assert [n["text"] for n in listed.json()["items"]] == ["neighbour complained"]

    owner = platform.auth()
    assert_problem(
        await platform.api.get(f"/v1/requests/{rid}/notes", headers=owner), 403, "staff-only"
    )
    own = await platform.api.get(f"/v1/requests/{rid}", headers=owner)
    assert "neighbour" not in own.text
    assert_problem(await act(platform, rid, owner, action="approve"), 403, "staff-only")
    stranger = platform.auth("citizen-2")
    assert_problem(
        await platform.api.get(f"/v1/requests/{rid}/notes", headers=stranger),
        404,
        "request-not-found",
    )
    elsewhere = agent(platform, "agent-9", tenant="montreux")
    assert_problem(await act(platform, rid, elsewhere, action="take"), 404, "request-not-found")
    assert_problem(
        await platform.api.get(f"/v1/requests/{rid}/notes", headers=elsewhere),
        404,
        "request-not-found",
    )


async def test_a_draft_stays_the_citizens_own(platform):
    await platform.publish("parking-card")
    created = await platform.api.post(
        "/v1/requests", json={"procedure": "parking-card"}, headers=platform.auth()
    )
    rid = created.json()["id"]
    assert_problem(
        await act(platform, rid, agent(platform), action="take"), 404, "request-not-found"
    )


async def test_an_approval_gives_the_citizen_a_decision_pdf(platform, nats_server):
    await platform.publish("parking-card")  # no decision text of its own: the generic one
    rid = (await submitted_parking(platform))["id"]
    staff = agent(platform)
    assert (await act(platform, rid, staff, action="in_review")).status_code == 200
    async with EventRecorder(nats_server.url, tenant=platform.tenant) as tap:
        approved = await act(platform, rid, staff, action="approve", comment="Zone A, spot 12.")
        assert approved.status_code == 200, approved.text
        event = (await tap.wait_for("procedure.request.approved"))[0]
    body = approved.json()
    document = body["decision_document_id"]
    assert document and event["data"]["decision_document_id"] == document
    assert body["history"][-1]["changes"]["decision_document"] == {
        "before": None,
        "after": document,
    }
    storage = platform.app.state.runtime.context.storage
    # The citizen reads it with their own token (it is theirs), the agent with theirs.
    citizen_token = platform.token(scopes=["documents:read"])
    for token in (citizen_token, staff["Authorization"].split()[1]):
        meta = await storage.get(token, document)
        assert meta is not None and meta["kind"] == "decision"
        assert meta["content_type"] == "application/pdf"
    pdf = (await storage.content(citizen_token, document)).content
    assert pdf.startswith(b"%PDF")
    seen = await platform.api.get(f"/v1/requests/{rid}", headers=platform.auth())
    assert seen.json()["decision_document_id"] == document
    reopened = await act(platform, rid, staff, action="reopen", comment="one more check")
    assert reopened.json()["decision_document_id"] is None


def test_the_decision_text_is_the_definitions_in_the_citizens_language():
    request = Request(
        id="r1", reference="VEV-2026-000042", locale="de", answers={"name": "Anna Muster"}
    )
    template = {
        "fr": "Décision {reference}",
        "de": "Entscheid {reference} für {name} vom {date}: {comment} {unknown} {name.__class__}",
    }
    on = datetime(2026, 3, 1, tzinfo=UTC)
    loaded = Loaded(request, {"title": {"fr": "Carte"}, "decision": template, "steps": []})
    assert decisions.text(loaded, comment="Bewilligt.", commune="Vevey", on=on) == (
        "Entscheid VEV-2026-000042 für Anna Muster vom 01.03.2026: Bewilligt. {unknown} "
        "{name.__class__}"
    )
    generic = Loaded(request, {"title": {"de": "Parkkarte"}, "steps": []})
    text = decisions.text(generic, comment=None, commune="Vevey", on=on)
    assert text.startswith("Vevey, 01.03.2026") and "Parkkarte" in text
    assert "Anna Muster" in text and "bewilligt" in text
    assert decisions.render(loaded, comment="<ok> & fine", commune="Vevey", on=on).startswith(
        b"%PDF"
    )
    # A long decision is never cut off: the page grows.
    long = decisions.svg("Entscheid", "\n".join(f"Auflage {n}." for n in range(120)))
    assert "Auflage 119." in long and "&lt;" not in long
    escaped = decisions.svg("Entscheid", "<b>&")
    assert "&lt;b&gt;&amp;" in escaped
