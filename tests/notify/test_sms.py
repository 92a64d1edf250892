"""SMS: validated numbers, length limits, the HTTP gateway adapter, per-tenant rate limits."""

from __future__ import annotations

import json

from socle_dev.testing import assert_problem, eventually
from tests.support.notify import create_template

CODE = {
    "name": "code",
    "channel": "sms",
    "default_language": "fr",
    "contents": {"fr": {"body": "Votre code : ((code))"}, "de": {"body": "Ihr Code: ((code))"}},
}


async def test_sms_goes_through_the_gateway_with_a_normalised_number(
    notify, admin, sender, endpoint, events, tenant
):
    endpoint.status = 202
    async with notify(
        sms_provider="http",
        sms_gateway_url=endpoint.url + "/send",
        sms_gateway_token="gw-token",
        sms_sender="Vevey",
    ) as client:
        template = await create_template(client, admin, CODE)
        response = await client.post(
            "/v1/notifications/sms",
            json={
                "template_id": template["id"],
                "to": "079 123 45 67",
                "language": "de",
                "personalisation": {"code": "123456"},
            },
            headers=sender,
        )
        assert response.status_code == 201, response.text
        assert response.json()["to"] == "+41791234567"

        async def sent() -> list:
            return endpoint.requests

        [request] = await eventually(sent, "the gateway call")
        assert request.path == "/send"
        assert request.headers["authorization"] == "Bearer gw-token"
        assert json.loads(request.body) == {
            "from": "Vevey",
            "to": "+41791234567",
            "text": "Ihr Code: 123456",
            "reference": response.json()["id"],
        }
        [delivered] = await events.wait_for("notification.delivered")
        assert delivered["data"]["channel"] == "sms"


async def test_gateway_refusal_is_a_permanent_failure(notify, admin, sender, endpoint, events):
    endpoint.status = 400
    endpoint.body = b'{"error": "unknown destination"}'
    async with notify(sms_provider="http", sms_gateway_url=endpoint.url) as client:
        template = await create_template(client, admin, CODE)
        await client.post(
            "/v1/notifications/sms",
            json={
                "template_id": template["id"],
                "to": "+41791234567",
                "personalisation": {"code": "1"},
            },
            headers=sender,
        )
        [failed] = await events.wait_for("notification.failed")
        assert failed["data"]["attempts"] == 1
        assert failed["data"]["error"].startswith("sms-gateway-400")


async def test_bad_numbers_and_long_messages_are_refused(notify, admin, sender):
    async with notify() as client:
        template = await create_template(client, admin, CODE)
        bad = await client.post(
            "/v1/notifications/sms",
            json={"template_id": template["id"], "to": "12", "personalisation": {"code": "1"}},
            headers=sender,
        )
        assert_problem(bad, 422, "invalid-recipient")
        long = await client.post(
            "/v1/notifications/sms",
            json={
                "template_id": template["id"],
                "to": "+41791234567",
                "personalisation": {"code": "ł" * 500},
            },
            headers=sender,
        )
        assert "fragments" in assert_problem(long, 422, "sms-too-long")["detail"]


async def test_rate_limit_holds_back_what_exceeds_the_tenants_budget(
    notify, admin, sender, tmp_path
):
    async with notify(sms_rate_per_minute=2) as client:
        template = await create_template(client, admin, CODE)
        ids = []
        for n in range(3):
            response = await client.post(
                "/v1/notifications/sms",
                json={
                    "template_id": template["id"],
                    "to": f"+4179123456{n}",
                    "personalisation": {"code": str(n)},
                },
                headers=sender,
            )
            ids.append(response.json()["id"])

        async def settled() -> list:
            items = (await client.get("/v1/notifications?channel=sms", headers=sender)).json()
            states = sorted(n["status"] for n in items["items"])
            # held back: given back by the worker (rescheduled), not merely not claimed yet
            given_back = any(
                n["status"] == "created" and n["next_attempt_at"] > n["created_at"]
                for n in items["items"]
            )
            return states if states == ["created", "delivered", "delivered"] and given_back else []

        await eventually(settled, "two sent, one held back")
        held = [
            n
            for n in (await client.get("/v1/notifications?status=created", headers=sender)).json()[
                "items"
            ]
        ]
        assert len(held) == 1 and held[0]["attempts"] == 0
        assert held[0]["next_attempt_at"] > held[0]["created_at"]
        assert len(list((tmp_path / "sms").glob("*.json"))) == 2
