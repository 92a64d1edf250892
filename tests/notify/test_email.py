"""Sending email: accepted, queued, delivered through real SMTP, tracked, retried, reported."""

from __future__ import annotations

import uuid

from socle_dev.testing import assert_problem, eventually
from socle_notify.notifications import Notifications
from tests.support.notify import TEMPLATE, address, create_template, parts


async def test_email_lands_in_the_mailbox_in_the_right_language_and_escaped(
    notify, admin, sender, smtp_sink, events, tenant
):
    to = address(tenant)
    async with notify() as client:
        template = await create_template(client, admin, TEMPLATE)
        response = await client.post(
            "/v1/notifications/email",
            json={
                "template_id": template["id"],
                "to": to,
                "language": "de",
                "reference": "R-42",
                "personalisation": {"name": "<b>Anna</b> & Co", "reference": "R-42"},
            },
            headers=sender,
        )
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["status"] in ("created", "sending", "delivered")
        assert created["language"] == "de" and created["template_version"] == 1

        mails = await eventually(lambda: _mails(smtp_sink, to), "the mail in the sink")
        assert len(mails) == 1
        mail = mails[0]
        assert mail["Subject"] == "Ihr Gesuch R-42"
        assert mail["From"] == "Commune <noreply@commune.ch>"
        assert mail["To"] == to
        assert mail["Content-Language"] == "de"
        assert mail["Message-ID"] == f"<{created['id']}@commune.ch>"
        text = parts(mail)
        assert "Guten Tag <b>Anna</b> & Co" in text["plain"]
        assert "Guten Tag &lt;b&gt;Anna&lt;/b&gt; &amp; Co" in text["html"]
        assert '<html lang="de">' in text["html"]

        async def delivered() -> dict | None:
            body = (await client.get(f"/v1/notifications/{created['id']}", headers=sender)).json()
            return body if body["status"] == "delivered" else None

        final = await eventually(delivered, "status delivered")
        assert final["sent_at"] and final["attempts"] == 1
        [event] = await events.wait_for("notification.delivered")
        assert event["data"]["notification_id"] == created["id"]
        assert event["data"]["reference"] == "R-42"
        assert to not in str(event)  # no address on the bus


async def _mails(sink, to):
    return sink.to(to)


async def test_idempotency_key_sends_once_and_refuses_another_body(
    notify, admin, sender, smtp_sink, tenant
):
    to = address(tenant)
    async with notify() as client:
        template = await create_template(client, admin, TEMPLATE)
        body = {
            "template_id": template["id"],
            "to": to,
            "personalisation": {"name": "Anna", "reference": "R-1"},
        }
        key = {"Idempotency-Key": uuid.uuid4().hex, **sender}
        first = await client.post("/v1/notifications/email", json=body, headers=key)
        again = await client.post("/v1/notifications/email", json=body, headers=key)
        assert first.status_code == again.status_code == 201
        assert first.json()["id"] == again.json()["id"]
        other = await client.post(
            "/v1/notifications/email", json={**body, "to": address(tenant, "bob")}, headers=key
        )
        assert_problem(other, 422, "idempotency-key-reused")
        await eventually(lambda: _mails(smtp_sink, to), "the mail")
        # a marker sent after the retries: once it arrived, a duplicate would have too
        marker_to = address(tenant, "marker")
        marker = await client.post(
            "/v1/notifications/email", json={**body, "to": marker_to}, headers=sender
        )
        assert marker.status_code == 201, marker.text
        await eventually(lambda: _mails(smtp_sink, marker_to), "the marker mail")
        assert len(smtp_sink.to(to)) == 1
        listed = (await client.get("/v1/notifications", headers=sender)).json()["items"]
        assert sorted(n["id"] for n in listed) == sorted([first.json()["id"], marker.json()["id"]])


async def test_bad_input_is_refused_with_a_clear_problem(notify, admin, sender, tenant):
    async with notify() as client:
        template = await create_template(client, admin, TEMPLATE)
        sms = await create_template(
            client,
            admin,
            {"name": "sms", "channel": "sms", "contents": {"fr": {"body": "Code ((code))"}}},
        )
        base = {
            "template_id": template["id"],
            "to": address(tenant),
            "personalisation": {"name": "Anna", "reference": "R"},
        }

        unknown = await client.post(
            "/v1/notifications/email", json={**base, "template_id": "f" * 32}, headers=sender
        )
        assert_problem(unknown, 404, "template-not-found")

        missing = await client.post(
            "/v1/notifications/email",
            json={**base, "personalisation": {"name": "Anna"}},
            headers=sender,
        )
        problem = assert_problem(missing, 422, "missing-personalisation")
        assert "reference" in problem["detail"]
        assert problem["errors"][0]["field"] == "personalisation.reference"

        invalid = await client.post(
            "/v1/notifications/email", json={**base, "to": "anna@@vevey"}, headers=sender
        )
        assert_problem(invalid, 422, "invalid-recipient")

        wrong = await client.post(
            "/v1/notifications/email", json={**base, "template_id": sms["id"]}, headers=sender
        )
        assert "/v1/notifications/sms" in assert_problem(wrong, 422, "wrong-channel")["detail"]

        unknown_field = await client.post(
            "/v1/notifications/email", json={**base, "tenant": "other"}, headers=sender
        )
        assert_problem(unknown_field, 422, "validation-error")

        assert (await client.get("/v1/notifications", headers=sender)).json()["items"] == []
        assert_problem(
            await client.get("/v1/notifications/" + "0" * 32, headers=sender),
            404,
            "notification-not-found",
        )


async def test_list_filters_and_pages(notify, admin, sender, tenant, smtp_sink):
    async with notify() as client:
        template = await create_template(client, admin, TEMPLATE)
        ids = []
        for n in range(3):
            response = await client.post(
                "/v1/notifications/email",
                json={
                    "template_id": template["id"],
                    "to": address(tenant, f"p{n}"),
                    "reference": "even" if n % 2 == 0 else "odd",
                    "personalisation": {"name": "X", "reference": str(n)},
                },
                headers=sender,
            )
            ids.append(response.json()["id"])
        page = (await client.get("/v1/notifications?limit=2", headers=sender)).json()
        assert [n["id"] for n in page["items"]] == [ids[2], ids[1]]
        rest = (
            await client.get(
                f"/v1/notifications?limit=2&cursor={page['next_cursor']}", headers=sender
            )
        ).json()
        assert [n["id"] for n in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
        even = (await client.get("/v1/notifications?reference=even", headers=sender)).json()
        assert sorted(n["id"] for n in even["items"]) == sorted([ids[0], ids[2]])


async def test_smtp_refusing_is_retried_until_delivered(notify, admin, sender, smtp_sink, tenant):
    to = address(tenant)
    async with notify() as client:
        template = await create_template(client, admin, TEMPLATE)
        smtp_sink.refuse = True
        try:
            created = (
                await client.post(
                    "/v1/notifications/email",
                    json={
                        "template_id": template["id"],
                        "to": to,
                        "personalisation": {"name": "A", "reference": "R"},
                    },
                    headers=sender,
                )
            ).json()

            async def failed_once() -> dict | None:
                body = (
                    await client.get(f"/v1/notifications/{created['id']}", headers=sender)
                ).json()
                return body if body["status"] == "temporary_failure" else None

            failing = await eventually(failed_once, "a temporary failure")
            assert failing["error"].startswith("smtp-451")
        finally:
            smtp_sink.refuse = False

        async def delivered() -> dict | None:
            body = (await client.get(f"/v1/notifications/{created['id']}", headers=sender)).json()
            return body if body["status"] == "delivered" else None

        final = await eventually(delivered, "delivery after the refusal")
        assert final["attempts"] >= 2 and final["error"] is None
        assert len(smtp_sink.to(to)) == 1


async def test_final_failure_is_reported_on_the_bus_and_to_operations(
    notify, admin, sender, smtp_sink, events, tenant
):
    to = address(tenant)
    ops = f"ops.{tenant}@vevey.ch"
    async with notify(max_attempts=2, tenant_operations_emails={tenant: ops}) as client:
        template = await create_template(client, admin, TEMPLATE)
        smtp_sink.refuse = True
        try:
            created = (
                await client.post(
                    "/v1/notifications/email",
                    json={
                        "template_id": template["id"],
                        "to": to,
                        "reference": "R-9",
                        "personalisation": {"name": "A", "reference": "R-9"},
                    },
                    headers=sender,
                )
            ).json()
            [failed] = await events.wait_for("notification.failed")
        finally:
            smtp_sink.refuse = False
        assert failed["data"]["notification_id"] == created["id"]
        assert failed["data"]["attempts"] == 2
        assert failed["data"]["error"].startswith("smtp-451")
        body = (await client.get(f"/v1/notifications/{created['id']}", headers=sender)).json()
        assert body["status"] == "permanent_failure"

        alerts = await eventually(lambda: _mails(smtp_sink, ops), "the alert to operations")
        alert = alerts[0]
        assert "failed for good" in alert["Subject"]
        assert created["id"] in parts(alert)["plain"]
        assert to not in parts(alert)["plain"]
        assert smtp_sink.to(to) == []


async def test_a_crashed_worker_claim_is_recovered_and_sent_once(
    notify, admin, sender, smtp_sink, tenant
):
    to = address(tenant)
    async with notify(lease_seconds=1.0) as client:
        runtime = client.app.state.runtime
        domain = runtime.context
        await domain.worker.stop()  # this worker "crashes": nothing runs it
        template = await create_template(client, admin, TEMPLATE)
        created = (
            await client.post(
                "/v1/notifications/email",
                json={
                    "template_id": template["id"],
                    "to": to,
                    "personalisation": {"name": "A", "reference": "R"},
                },
                headers=sender,
            )
        ).json()
        notifications: Notifications = domain.notifications
        async with runtime.sessions() as session, session.begin():
            claims = await notifications.queue.claim(session, 10)
        assert created["id"] in [c.id for c in claims]
        body = (await client.get(f"/v1/notifications/{created['id']}", headers=sender)).json()
        assert body["status"] == "sending"

        domain.worker.start()  # a new worker starts after the crash
        domain.worker.wake()

        async def delivered() -> dict | None:
            body = (await client.get(f"/v1/notifications/{created['id']}", headers=sender)).json()
            return body if body["status"] == "delivered" else None

        final = await eventually(delivered, "delivery once the lease expired")
        assert final["attempts"] == 2
        assert len(smtp_sink.to(to)) == 1
