"""Webhook subscriptions: signed deliveries (Standard Webhooks), retries, dead letters, replay,
and callback URL validation."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook

from socle.events import CloudEvent
from socle_dev.testing import assert_problem, eventually
from tests.support.notify import client_token, decision, parts

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def test_matching_events_arrive_signed_and_verifiable(notify, admin, bus, endpoint, tenant):
    async with notify() as client:
        created = await client.post(
            "/v1/subscriptions",
            json={
                "callback_url": endpoint.url + "/hooks/socle",
                "event_types": ["document.*"],
                "secret": SECRET,
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        assert created.json()["secret"] == SECRET
        listed = (await client.get("/v1/subscriptions", headers=admin)).json()["items"]
        assert "secret" not in listed[0]

        event = decision(tenant)
        await bus.publish_event(
            CloudEvent.new(
                service="payment", type="payment.created", tenant=tenant, data={"payment_id": "x"}
            )
        )
        await bus.publish_event(event)

        async def received() -> list:
            return endpoint.requests

        [request] = await eventually(received, "the webhook call")
        assert request.path == "/hooks/socle"
        payload = Webhook(SECRET).verify(request.body, request.headers)
        assert payload["id"] == event.id
        assert payload["type"] == "document.shared"
        assert payload["data"] == {"document_id": "doc-1", "procedure": "pr-1"}
        with pytest.raises(Exception):  # noqa: B017 - any verification failure
            Webhook("whsec_" + "A" * 32).verify(request.body, request.headers)

        async def delivered() -> list:
            items = (
                await client.get("/v1/webhook-deliveries?status=delivered", headers=admin)
            ).json()["items"]
            return items

        [delivery] = await eventually(delivered, "the delivery recorded as delivered")
        assert delivery["id"] == request.headers["webhook-id"]
        detail = (
            await client.get(f"/v1/webhook-deliveries/{delivery['id']}", headers=admin)
        ).json()
        assert [a["status_code"] for a in detail["attempt_log"]] == [204]


async def test_failing_endpoint_is_retried_then_dead_lettered_then_replayed(
    notify, admin, bus, endpoint, events, tenant, smtp_sink
):
    endpoint.status = 500
    endpoint.body = b"<html>oops, not json at all"
    ops = f"ops.{tenant}@vevey.ch"
    async with notify(webhook_max_attempts=3, tenant_operations_emails={tenant: ops}) as client:
        sub = (
            await client.post(
                "/v1/subscriptions",
                json={"callback_url": endpoint.url, "event_types": ["document.shared"]},
                headers=admin,
            )
        ).json()
        assert sub["secret"].startswith("whsec_")
        await bus.publish_event(decision(tenant))

        [failed] = await events.wait_for("notification.failed")
        assert failed["data"]["channel"] == "webhook"
        assert failed["data"]["subscription_id"] == sub["id"]
        assert failed["data"]["attempts"] == 3
        assert len(endpoint.requests) == 3
        assert len({r.headers["webhook-id"] for r in endpoint.requests}) == 1

        async def alerted() -> list:
            return smtp_sink.to(ops)

        [alert] = await eventually(alerted, "the alert mail to operations")
        assert "webhook delivery" in parts(alert)["plain"]

        dead = (await client.get("/v1/webhook-deliveries?status=dead", headers=admin)).json()
        [delivery] = dead["items"]
        detail = (
            await client.get(f"/v1/webhook-deliveries/{delivery['id']}", headers=admin)
        ).json()
        assert [a["status_code"] for a in detail["attempt_log"]] == [500, 500, 500]
        assert detail["last_error"] == "http-500"

        endpoint.status = 200
        replay = await client.post(f"/v1/webhook-deliveries/{delivery['id']}/replay", headers=admin)
        assert replay.status_code == 200, replay.text

        async def delivered() -> dict | None:
            body = (
                await client.get(f"/v1/webhook-deliveries/{delivery['id']}", headers=admin)
            ).json()
            return body if body["status"] == "delivered" else None

        final = await eventually(delivered, "the replayed delivery")
        assert [a["status_code"] for a in final["attempt_log"]] == [500, 500, 500, 200]
        Webhook(sub["secret"]).verify(endpoint.requests[-1].body, endpoint.requests[-1].headers)
        again = await client.post(f"/v1/webhook-deliveries/{delivery['id']}/replay", headers=admin)
        assert_problem(again, 409, "delivery-not-dead")


async def test_slow_endpoint_counts_as_a_failed_attempt(notify, admin, bus, endpoint, tenant):
    endpoint.delay = 1.0
    async with notify(webhook_timeout_seconds=0.3, webhook_max_attempts=1) as client:
        await client.post(
            "/v1/subscriptions",
            json={"callback_url": endpoint.url, "event_types": ["*"]},
            headers=admin,
        )
        await bus.publish_event(decision(tenant))

        async def dead() -> list:
            return (await client.get("/v1/webhook-deliveries?status=dead", headers=admin)).json()[
                "items"
            ]

        [delivery] = await eventually(dead, "the slow delivery given up")
        assert delivery["last_error"] == "timeout"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "ftp://example.ch/hook",
        "https://user:pw@example.ch/hook",
    ],
)
async def test_internal_callback_urls_are_refused_by_default(notify, admin, url, tenant):
    async with notify(webhook_allow_private=False) as client:
        response = await client.post(
            "/v1/subscriptions",
            json={"callback_url": url, "event_types": ["*"]},
            headers=admin,
        )
        assert_problem(response, 422, "invalid-callback-url")
        assert (await client.get("/v1/subscriptions", headers=admin)).json()["items"] == []


async def test_bad_secret_and_other_tenants(notify, admin, issuer, endpoint):
    async with notify() as client:
        bad = await client.post(
            "/v1/subscriptions",
            json={"callback_url": endpoint.url, "event_types": ["*"], "secret": "plain-password"},
            headers=admin,
        )
        assert_problem(bad, 422, "invalid-secret")
        sub = (
            await client.post(
                "/v1/subscriptions",
                json={"callback_url": endpoint.url, "event_types": ["*"]},
                headers=admin,
            )
        ).json()
        other = {
            "Authorization": "Bearer " + client_token(issuer, "another", ["notifications:admin"])
        }
        assert_problem(
            await client.get(f"/v1/subscriptions/{sub['id']}", headers=other),
            404,
            "subscription-not-found",
        )
        assert (
            await client.delete(f"/v1/subscriptions/{sub['id']}", headers=admin)
        ).status_code == 204
        assert (await client.get("/v1/subscriptions", headers=admin)).json()["items"] == []
        assert_problem(
            await client.get(f"/v1/subscriptions/{sub['id']}", headers=admin),
            404,
            "subscription-not-found",
        )
