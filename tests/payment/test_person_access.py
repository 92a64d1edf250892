"""Whose payments: a citizen's token reaches only the payments the citizen pays; the
commune's staff and services reach every payment of the tenant. Played as the attacker."""

from __future__ import annotations

from socle_dev.testing import assert_problem
from tests.support.payment import camt054, payment_body, service


async def test_a_citizen_lists_reads_and_cancels_only_their_own_payments(
    settings_for, auth, citizen
):
    anna, bruno = citizen("citizen-anna"), citizen("citizen-bruno")
    async with service(settings_for()) as (client, _):
        # Anna pays a fee she started herself; the commune opens one for Bruno.
        own = await client.post("/v1/payments", json=payment_body(reference="A-1"), headers=anna)
        assert own.status_code == 201, own.text
        assert own.json()["payer_subject"] == "citizen-anna"
        for_bruno = await client.post(
            "/v1/payments",
            json=payment_body(reference="B-1", payer_subject="citizen-bruno"),
            headers=auth(),
        )
        assert for_bruno.json()["payer_subject"] == "citizen-bruno"
        nobody = await client.post(
            "/v1/payments", json=payment_body(reference="C-1"), headers=auth()
        )
        assert nobody.json()["payer_subject"] is None
        brunos = for_bruno.json()["id"]

        listed = (await client.get("/v1/payments", headers=anna)).json()
        assert [p["reference"] for p in listed["items"]] == ["A-1"]
        by_reference = await client.get("/v1/payments?reference=B-1", headers=anna)
        assert by_reference.json()["items"] == []

        # Bruno's payment does not exist for Anna: read, cancel, QR-bill all answer 404.
        assert_problem(
            await client.get(f"/v1/payments/{brunos}", headers=anna), 404, "payment-not-found"
        )
        assert_problem(
            await client.post(f"/v1/payments/{brunos}/cancel", headers=anna),
            404,
            "payment-not-found",
        )
        assert_problem(
            await client.get(f"/v1/payments/{brunos}/qr-bill.svg", headers=anna),
            404,
            "payment-not-found",
        )
        still = (await client.get(f"/v1/payments/{brunos}", headers=auth())).json()
        assert still["status"] == "pending" and [e["to_status"] for e in still["ledger"]] == [
            "created",
            "pending",
        ]

        # Bruno sees and cancels his own; Anna cancels hers.
        mine = (await client.get("/v1/payments", headers=bruno)).json()
        assert [p["id"] for p in mine["items"]] == [brunos]
        cancelled = await client.post(f"/v1/payments/{brunos}/cancel", headers=bruno)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert (
            await client.get(f"/v1/payments/{own.json()['id']}", headers=anna)
        ).status_code == 200

        # The commune's back office, an agent and an admin see all three.
        for staff in (
            auth(),
            auth(subject="agent-1", roles=("agent",), client_id="portal"),
            auth(subject="admin-1", roles=("admin",), client_id="portal"),
        ):
            every = (await client.get("/v1/payments", headers=staff)).json()
            assert {p["reference"] for p in every["items"]} == {"A-1", "B-1", "C-1"}


async def test_a_person_cannot_create_a_payment_for_someone_else(settings_for, citizen):
    anna = citizen("citizen-anna")
    async with service(settings_for()) as (client, _):
        problem = assert_problem(
            await client.post(
                "/v1/payments", json=payment_body(payer_subject="citizen-bruno"), headers=anna
            ),
            403,
            "payer-not-allowed",
        )
        assert "payer_subject" in problem["detail"]
        same = await client.post(
            "/v1/payments", json=payment_body(payer_subject="citizen-anna"), headers=anna
        )
        assert same.status_code == 201


async def test_idempotency_keys_of_one_person_never_replay_anothers_payment(settings_for, citizen):
    anna, bruno = citizen("citizen-anna"), citizen("citizen-bruno")
    async with service(settings_for()) as (client, _):
        first = await client.post(
            "/v1/payments", json=payment_body(), headers={**anna, "Idempotency-Key": "pay-1"}
        )
        other = await client.post(
            "/v1/payments", json=payment_body(), headers={**bruno, "Idempotency-Key": "pay-1"}
        )
        assert other.status_code == 201
        assert other.json()["id"] != first.json()["id"]
        assert other.json()["next_url"] != first.json()["next_url"]
        assert other.json()["payer_subject"] == "citizen-bruno"


async def test_commune_wide_actions_are_refused_to_a_citizen(settings_for, auth, citizen):
    anna = citizen("citizen-anna")
    async with service(settings_for()) as (client, _):
        paid = (await client.post("/v1/payments", json=payment_body(), headers=anna)).json()
        assert_problem(
            await client.post(f"/v1/payments/{paid['id']}/refunds", json={}, headers=anna),
            403,
            "commune-wide-only",
        )
        assert_problem(
            await client.get(
                "/v1/reports/payments.csv?from=2026-01-01&to=2026-12-31", headers=anna
            ),
            403,
            "commune-wide-only",
        )
        bill = (
            await client.post("/v1/payments", json=payment_body(provider="qrbill"), headers=anna)
        ).json()
        xml = camt054([(bill["qr_reference"], "150.00", "CHF", "CRDT")])
        assert_problem(
            await client.post(
                "/v1/reconciliations/camt054",
                content=xml,
                headers={**anna, "Content-Type": "application/xml"},
            ),
            403,
            "commune-wide-only",
        )
        assert (await client.get(f"/v1/payments/{bill['id']}", headers=anna)).json()[
            "status"
        ] == "pending"
        # A person without any role (a mediator, say) is no commune staff either.
        mediator = auth(subject="mediator-1", roles=("mediator",), client_id="portal")
        assert_problem(
            await client.get(
                "/v1/reports/payments.csv?from=2026-01-01&to=2026-12-31", headers=mediator
            ),
            403,
            "commune-wide-only",
        )
        assert (await client.get("/v1/payments", headers=mediator)).json()["items"] == []
        # The commune's services still do all of it.
        report = await client.get(
            "/v1/reports/payments.csv?from=2000-01-01&to=2100-12-31", headers=auth()
        )
        assert report.status_code == 200 and bill["id"] in report.text


async def test_the_public_pages_still_work_for_a_citizens_payment(settings_for, citizen):
    anna = citizen("citizen-anna")
    async with service(settings_for()) as (client, _):
        bill = (
            await client.post("/v1/payments", json=payment_body(provider="qrbill"), headers=anna)
        ).json()
        path = bill["next_url"].removeprefix("http://testserver")
        assert (await client.get(path)).status_code == 200
        svg = await client.get(path + "/qr-bill.svg")
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        mine = await client.get(f"/v1/payments/{bill['id']}/qr-bill.svg", headers=anna)
        assert mine.status_code == 200
