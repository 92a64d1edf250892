"""The back-office pages without JavaScript: the queue filtered, counted and exported, a
request's page, actions with CSRF and conflicts, notes; a citizen and another commune's
agent kept out."""

from __future__ import annotations

import csv
import io
import re

from tests.support.procedures import STAFF_SCOPES, agent, logged_in, submitted_parking

REFUNDER_SCOPES = [*STAFF_SCOPES, "payments:read", "payments:write"]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found[1]


async def test_the_queue_filters_counts_sorts_and_exports(platform):
    await platform.publish("parking-card")
    first = await submitted_parking(platform)
    second = await submitted_parking(platform, "citizen-2")
    await platform.api.post(
        f"/v1/requests/{second['id']}/actions",
        json={"action": "in_review"},
        headers=agent(platform),
    )
    cookies = await logged_in(platform, "agent-7")
    page = await platform.api.get("/back-office", cookies=cookies)
    assert page.status_code == 200, page.text
    assert '<html lang="en">' in page.text
    assert re.search(r'data-state="submitted">1<', page.text)
    assert re.search(r'data-state="in_review">1<', page.text)
    assert first["reference"] in page.text and second["reference"] in page.text

    only = await platform.api.get(
        "/back-office", params={"state": "in_review", "sort": "reference"}, cookies=cookies
    )
    assert second["reference"] in only.text and first["reference"] not in only.text
    by_ref = await platform.api.get(
        "/back-office", params={"reference": first["reference"][-6:]}, cookies=cookies
    )
    assert first["reference"] in by_ref.text and second["reference"] not in by_ref.text

    exported = await platform.api.get(
        "/back-office/export.csv", params={"state": "submitted"}, cookies=cookies
    )
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["reference"] for r in rows] == [first["reference"]]
    assert rows[0]["state"] == "submitted"


async def test_an_agent_acts_from_the_request_page(platform):
    await platform.publish("parking-card")
    rid = (await submitted_parking(platform))["id"]
    cookies = await logged_in(platform, "agent-7")
    page = await platform.api.get(f"/back-office/requests/{rid}", cookies=cookies)
    assert page.status_code == 200, page.text
    assert "VD 12345" in page.text
    token = csrf_of(page.text)

    forged = await platform.api.post(
        f"/back-office/requests/{rid}/actions",
        data={"action": "take", "csrf_token": "forged"},
        cookies=cookies,
    )
    assert forged.status_code == 403
    taken = await platform.api.post(
        f"/back-office/requests/{rid}/actions",
        data={"action": "take", "expected_state": "submitted", "csrf_token": token},
        cookies=cookies,
    )
    assert taken.status_code == 303
    await platform.api.post(
        f"/back-office/requests/{rid}/actions",
        data={"action": "in_review", "expected_state": "submitted", "csrf_token": token},
        cookies=cookies,
    )
    # A second agent's page still shows "submitted": their action loses, and says what now.
    late = await platform.api.post(
        f"/back-office/requests/{rid}/actions",
        data={"action": "in_review", "expected_state": "submitted", "csrf_token": token},
        cookies=cookies,
    )
    assert late.status_code == 409
    assert "Allowed now: Take it, Assign, Ask for information, Approve, Reject" in late.text
    no_reason = await platform.api.post(
        f"/back-office/requests/{rid}/actions",
        data={"action": "reject", "csrf_token": token},
        cookies=cookies,
    )
    assert no_reason.status_code == 422
    noted = await platform.api.post(
        f"/back-office/requests/{rid}/notes",
        data={"text": "called the citizen", "csrf_token": token},
        cookies=cookies,
    )
    assert noted.status_code == 303
    page = await platform.api.get(f"/back-office/requests/{rid}", cookies=cookies)
    assert "called the citizen" in page.text
    assert "assigned_to: \u2013 \u2192 agent-7" in page.text

    receipt = await platform.api.get(f"/v1/requests/{rid}", headers=platform.auth())
    assert "called the citizen" not in receipt.text


async def test_citizens_and_other_communes_are_kept_out(platform):
    await platform.publish("parking-card")
    rid = (await submitted_parking(platform))["id"]
    anonymous = await platform.api.get("/back-office")
    assert anonymous.status_code == 303 and "/auth/login" in anonymous.headers["location"]
    citizen = await logged_in(platform, "citizen-1", roles=("citizen",))
    for path in ("/back-office", f"/back-office/requests/{rid}", "/back-office/export.csv"):
        refused = await platform.api.get(path, cookies=citizen)
        assert refused.status_code == 403, path
        assert "VD 12345" not in refused.text
    elsewhere = await logged_in(platform, "agent-9", tenant="montreux")
    assert (
        await platform.api.get(f"/back-office/requests/{rid}", cookies=elsewhere)
    ).status_code == 404
    listed = await platform.api.get("/back-office", cookies=elsewhere)
    assert listed.status_code == 200 and rid not in listed.text
    stray = await platform.api.get(
        f"/back-office/requests/{rid}/documents/someone-elses",
        cookies=await logged_in(platform, "agent-7"),
    )
    assert stray.status_code == 404


async def test_the_citizen_reads_what_to_correct_but_never_a_note(platform):
    await platform.publish("parking-card")
    rid = (await submitted_parking(platform))["id"]
    staff = agent(platform)
    for body in (
        {"action": "in_review"},
        {"action": "request_information", "fields": ["plate"], "comment": "Plate unreadable."},
    ):
        done = await platform.api.post(f"/v1/requests/{rid}/actions", json=body, headers=staff)
        assert done.status_code == 200, done.text
    await platform.api.post(
        f"/v1/requests/{rid}/notes", json={"text": "secret remark"}, headers=staff
    )
    citizen = await logged_in(platform, "citizen-1", roles=("citizen",))
    receipt = await platform.api.get(f"/requests/{rid}", cookies=citizen)
    assert receipt.status_code == 303 and receipt.headers["location"].endswith("/check")
    check = await platform.api.get(f"/requests/{rid}/check", cookies=citizen)
    assert check.status_code == 200, check.text
    assert "Plate unreadable." in check.text
    assert "secret remark" not in check.text


async def test_an_agent_sees_the_payment_and_refunds_part_of_it_once(platform):
    from tests.support.procedures import DOG, answer, start

    await platform.publish("dog-registration")
    draft = await start(platform)
    rid = draft["id"]
    for step, answers in DOG.items():
        assert (await answer(platform, rid, step, answers)).status_code == 200
    opened = await platform.api.post(f"/v1/requests/{rid}/payment", headers=platform.auth())
    assert (await platform.pay_on_sandbox(opened.json()["fee"]["next_url"])).status_code == 303
    await platform.api.post(f"/v1/requests/{rid}/payment/refresh", headers=platform.auth())
    submitted = await platform.api.post(f"/v1/requests/{rid}/submit", headers=platform.auth())
    assert submitted.status_code == 200, submitted.text
    payment_id = submitted.json()["fee"]["payment_id"]

    # A citizen never reaches the refund page, whatever the link.
    citizen = await logged_in(platform, "citizen-1", roles=("citizen",))
    kept_out = await platform.api.get(f"/back-office/requests/{rid}/refund", cookies=citizen)
    assert kept_out.status_code == 403

    # An agent whose token may read payments but not refund: payment refuses, nothing done.
    reader = await logged_in(platform, "agent-8", scopes=[*STAFF_SCOPES, "payments:read"])
    shown = await platform.api.get(f"/back-office/requests/{rid}/refund", cookies=reader)
    refused = await platform.api.post(
        f"/back-office/requests/{rid}/refund",
        data={"csrf_token": csrf_of(shown.text), "amount": "10.00", "idempotency_key": "k1"},
        cookies=reader,
    )
    assert refused.status_code == 502 and "The refund was not made" in refused.text

    cookies = await logged_in(platform, "agent-7", scopes=REFUNDER_SCOPES)
    page = await platform.api.get(f"/back-office/requests/{rid}", cookies=cookies)
    assert re.search(r'id="payment-status">succeeded', page.text), page.text
    assert f'href="/back-office/requests/{rid}/refund"' in page.text
    confirm = await platform.api.get(f"/back-office/requests/{rid}/refund", cookies=cookies)
    assert confirm.status_code == 200, confirm.text
    assert "CHF 100.00" in confirm.text.replace("\u00a0", " ")
    form = {
        "csrf_token": csrf_of(confirm.text),
        "idempotency_key": re.search(r'name="idempotency_key" value="([^"]+)"', confirm.text)[1],
        "amount": "30.00",
        "reason": "Second dog not kept",
    }
    too_much = await platform.api.post(
        f"/back-office/requests/{rid}/refund", data=form | {"amount": "500"}, cookies=cookies
    )
    assert too_much.status_code == 422 and "between 0.01 and" in too_much.text
    for nonsense in ("Infinity", "NaN", "1e9999", "0.001", "-5", "abc"):
        odd = await platform.api.post(
            f"/back-office/requests/{rid}/refund", data=form | {"amount": nonsense}, cookies=cookies
        )
        assert odd.status_code == 422, (nonsense, odd.text)
    done = await platform.api.post(
        f"/back-office/requests/{rid}/refund", data=form, cookies=cookies
    )
    assert done.status_code == 200, done.text
    assert "Refunded CHF 30.00" in done.text.replace("\u00a0", " ")
    assert "partially_refunded" in done.text
    # The same form sent again (a double click, a reload): one refund, not two.
    again = await platform.api.post(
        f"/back-office/requests/{rid}/refund", data=form, cookies=cookies
    )
    assert again.status_code == 200, again.text
    staff = platform.auth("agent-7", roles=("agent",), scopes=["payments:read"])
    payment = (await platform.payment.get(f"/v1/payments/{payment_id}", headers=staff)).json()
    assert payment["amount_refunded"] == 3000 and len(payment["refunds"]) == 1
    history = (await platform.api.get(f"/v1/requests/{rid}", headers=agent(platform))).json()
    refunds = [h for h in history["history"] if h["action"] == "refund"]
    assert refunds and refunds[0]["changes"]["amount"]["after"] == 3000
    assert refunds[0]["note"] == "Second dog not kept"
