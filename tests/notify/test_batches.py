"""Bulk and scheduled sending: validated up front, counted by status, cancellable before it
starts, completed with an event, and delivered exactly once across an SMTP outage."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from socle_dev.localinfra import SmtpSink, free_port
from socle_dev.testing import assert_problem, eventually
from tests.support.notify import create_template, email_template

TEMPLATE = email_template(
    fr={
        "subject": "Votation du ((date))",
        "body": "Bonjour ((name)), le matériel de vote est en route.",
    }
)


def recipients(tenant: str, count: int) -> list[dict]:
    return [
        {"to": f"voter{n}.{tenant}@vevey.ch", "personalisation": {"name": f"V{n}"}}
        for n in range(count)
    ]


async def test_batch_is_sent_counted_and_completed(
    notify, admin, sender, smtp_sink, events, tenant
):
    async with notify() as client:
        template = await create_template(client, admin, TEMPLATE)
        response = await client.post(
            "/v1/batches",
            json={
                "template_id": template["id"],
                "recipients": recipients(tenant, 5),
                "reference": "vote-2026-11",
            },
            headers={**sender, "Idempotency-Key": f"batch-{tenant}"},
        )
        # every recipient lacks ((date)): nothing is accepted
        problem = assert_problem(response, 422, "invalid-batch")
        assert [e["field"] for e in problem["errors"]] == [f"recipients.{n}" for n in range(5)]

        people = [
            {**r, "personalisation": {**r["personalisation"], "date": "29.11"}}
            for r in recipients(tenant, 5)
        ]
        created = await client.post(
            "/v1/batches",
            json={"template_id": template["id"], "recipients": people, "reference": "vote-2026-11"},
            headers={**sender, "Idempotency-Key": f"batch2-{tenant}"},
        )
        assert created.status_code == 201, created.text
        batch = created.json()
        assert batch["total"] == 5 and batch["counts"] == {"created": 5}

        [completed] = await events.wait_for("batch.completed")
        assert completed["data"]["batch_id"] == batch["id"]
        assert completed["data"]["counts"] == {"delivered": 5}
        final = (await client.get(f"/v1/batches/{batch['id']}", headers=sender)).json()
        assert final["status"] == "completed" and final["counts"] == {"delivered": 5}
        assert final["completed_at"]
        for person in people:
            assert len(smtp_sink.to(person["to"])) == 1
        assert_problem(
            await client.post(f"/v1/batches/{batch['id']}/cancel", headers=sender),
            409,
            "batch-started",
        )


async def test_scheduled_batch_waits_and_can_be_cancelled(notify, admin, sender, smtp_sink, tenant):
    async with notify() as client:
        template = await create_template(client, admin, TEMPLATE)
        people = [
            {**r, "personalisation": {**r["personalisation"], "date": "1.12"}}
            for r in recipients(tenant, 3)
        ]
        later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        batch = (
            await client.post(
                "/v1/batches",
                json={"template_id": template["id"], "recipients": people, "scheduled_for": later},
                headers=sender,
            )
        ).json()
        assert batch["status"] == "scheduled"
        cancelled = await client.post(f"/v1/batches/{batch['id']}/cancel", headers=sender)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert cancelled.json()["counts"] == {"cancelled": 3}
        listed = (
            await client.get(f"/v1/notifications?batch_id={batch['id']}", headers=sender)
        ).json()["items"]
        assert {n["status"] for n in listed} == {"cancelled"}
        assert all(smtp_sink.to(p["to"]) == [] for p in people)

        too_far = (datetime.now(UTC) + timedelta(hours=73)).isoformat()
        response = await client.post(
            "/v1/batches",
            json={"template_id": template["id"], "recipients": people, "scheduled_for": too_far},
            headers=sender,
        )
        assert "72 hours" in assert_problem(response, 422, "invalid-batch")["detail"]
        assert_problem(
            await client.get("/v1/batches/" + "0" * 32, headers=sender), 404, "batch-not-found"
        )


async def test_batch_limit_is_enforced(notify, admin, sender, tenant):
    async with notify(batch_max_recipients=3) as client:
        template = await create_template(client, admin, TEMPLATE)
        response = await client.post(
            "/v1/batches",
            json={"template_id": template["id"], "recipients": recipients(tenant, 4)},
            headers=sender,
        )
        assert "at most 3" in assert_problem(response, 422, "invalid-batch")["detail"]


async def test_smtp_stopped_and_restarted_mid_batch_delivers_each_mail_once(
    notify, admin, sender, events, tenant
):
    port = free_port()
    first = SmtpSink(port)
    first.start()
    second: SmtpSink | None = None
    total = 40
    try:
        async with notify(
            smtp_port=port,
            worker_batch=4,
            worker_concurrency=1,
            max_attempts=50,
            retry_base_seconds=0.1,
            retry_max_seconds=0.3,
        ) as client:
            template = await create_template(client, admin, TEMPLATE)
            people = [
                {**r, "personalisation": {**r["personalisation"], "date": "8.3"}}
                for r in recipients(tenant, total)
            ]
            batch = (
                await client.post(
                    "/v1/batches",
                    json={"template_id": template["id"], "recipients": people},
                    headers=sender,
                )
            ).json()

            async def some_received() -> int:
                return len(first.messages)

            await eventually(some_received, "the first mails")
            first.stop()  # the SMTP server goes down mid-batch
            before = len(first.messages)
            assert before < total

            async def failing() -> dict | None:
                body = (await client.get(f"/v1/batches/{batch['id']}", headers=sender)).json()
                return body if body["counts"].get("temporary_failure") else None

            await eventually(failing, "temporary failures while SMTP is down")
            second = SmtpSink(port)
            second.start()  # and comes back

            [completed] = await events.wait_for("batch.completed")
            assert completed["data"]["counts"] == {"delivered": total}
            received = Counter(
                rcpt for sink in (first, second) for _, rcpts, _ in sink.messages for rcpt in rcpts
            )
            assert received == Counter({p["to"]: 1 for p in people})
            assert len(second.messages) == total - before
    finally:
        if second is not None:
            second.stop()


async def test_two_replicas_share_a_batch_without_sending_twice(
    notify, admin, sender, smtp_sink, events, tenant
):
    total = 30
    async with notify(worker_batch=3) as first, notify(worker_batch=3) as second:
        template = await create_template(first, admin, TEMPLATE)
        people = [
            {**r, "personalisation": {**r["personalisation"], "date": "14.6"}}
            for r in recipients(tenant, total)
        ]
        batch = (
            await second.post(
                "/v1/batches",
                json={"template_id": template["id"], "recipients": people},
                headers=sender,
            )
        ).json()
        first.app.state.runtime.context.worker.wake()
        [completed] = await events.wait_for("batch.completed")
        assert completed["data"]["batch_id"] == batch["id"]
        assert completed["data"]["counts"] == {"delivered": total}
        for person in people:
            assert len(smtp_sink.to(person["to"])) == 1
