"""Absurd input answers a 4xx problem or a correct answer, never a 500."""

from __future__ import annotations

import pytest
import yaml

from socle_dev.testing import assert_problem
from socle_notify.event_types import KNOWN_EVENT_TYPES
from tests.support.infra import ROOT
from tests.support.notify import create_template, email_template

NOTE = email_template(fr={"subject": "Avis", "body": "Bonjour ((name))"})


def test_the_known_event_types_are_those_of_the_events_reference():
    spec = yaml.safe_load((ROOT / "docs" / "events.asyncapi.yaml").read_text())
    documented = {m["name"] for m in spec["components"]["messages"].values()}
    assert documented == KNOWN_EVENT_TYPES


@pytest.mark.parametrize(
    "types",
    [
        ["paymnet.succeeded"],
        ["payment.succeeded", "payment.paid"],
        ["permit.*"],
        ["payment.**"],
        ["*.succeeded"],
        [""],
        ["x" * 129],
        [],
    ],
)
async def test_a_subscription_to_events_that_do_not_exist_is_refused(
    notify, admin, endpoint, types
):
    async with notify() as client:
        response = await client.post(
            "/v1/subscriptions",
            json={"callback_url": endpoint.url, "event_types": types},
            headers=admin,
        )
        if not types or "" in types or len(types[0]) > 128:
            assert_problem(response, 422, "validation-error")
            return
        problem = assert_problem(response, 422, "unknown-event-type")
        assert "payment.succeeded" in problem["detail"]  # the valid types are named
        assert problem["errors"][0]["field"].startswith("event_types.")
        assert (await client.get("/v1/subscriptions", headers=admin)).json()["items"] == []


async def test_documented_types_and_patterns_are_accepted(notify, admin, endpoint):
    async with notify() as client:
        response = await client.post(
            "/v1/subscriptions",
            json={
                "callback_url": endpoint.url,
                "event_types": ["*", "payment.*", "document.shared", "user.registered"],
            },
            headers=admin,
        )
        assert response.status_code == 201, response.text


@pytest.mark.parametrize("cursor", ["zzzzzzzz", "", "é" * 10, "0" * 64, "\u202e", "' OR 1=1 --"])
async def test_any_cursor_is_a_correct_page(notify, sender, admin, cursor):
    async with notify() as client:
        for path in ("/v1/notifications", "/v1/templates", "/v1/webhook-deliveries"):
            response = await client.get(path, params={"cursor": cursor}, headers=admin)
            assert response.status_code == 200, response.text
            assert isinstance(response.json()["items"], list)


@pytest.mark.parametrize(
    "when",
    [
        "2026-11-24T08:00:00",  # no time zone
        "9999-12-31T23:59:59-05:00",  # after year 9999 once in UTC
        "9999-12-31T23:59:59Z",
        "10000-01-01T00:00:00Z",
        "2026-11-24T24:00:00Z",
    ],
)
async def test_a_batch_scheduled_for_an_impossible_time_is_refused(notify, admin, tenant, when):
    async with notify() as client:
        template = await create_template(client, admin, NOTE)
        response = await client.post(
            "/v1/batches",
            json={
                "template_id": template["id"],
                "recipients": [{"to": f"a.{tenant}@vevey.ch", "personalisation": {"name": "A"}}],
                "scheduled_for": when,
            },
            headers=admin,
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_batch_scheduled_before_year_1_in_utc_goes_out_now(notify, admin, tenant):
    async with notify() as client:
        template = await create_template(client, admin, NOTE)
        response = await client.post(
            "/v1/batches",
            json={
                "template_id": template["id"],
                "recipients": [{"to": f"a.{tenant}@vevey.ch", "personalisation": {"name": "A"}}],
                "scheduled_for": "0001-01-01T00:00:00+05:00",
            },
            headers=admin,
        )
        assert response.status_code == 201, response.text
        assert response.json()["scheduled_for"] == response.json()["created_at"]


async def test_a_recipient_subject_with_control_characters_is_refused(notify, admin, tenant):
    async with notify() as client:
        template = await create_template(client, admin, NOTE)
        response = await client.post(
            "/v1/notifications/email",
            json={
                "template_id": template["id"],
                "to": f"a.{tenant}@vevey.ch",
                "personalisation": {"name": "A"},
                "recipient_subject": "anna\nbruno",
            },
            headers=admin,
        )
        assert_problem(response, 422, "validation-error")
