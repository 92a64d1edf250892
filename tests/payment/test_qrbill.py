"""Swiss QR-bills: the bill read back from its QR code, and camt.054 reconciliation."""

from __future__ import annotations

from stdnum.ch import esr

from socle_dev.events import EventRecorder
from socle_dev.testing import assert_problem
from tests.support.payment import camt054, payment_body, qr_payload, service


async def test_a_qr_bill_carries_the_amount_and_a_valid_qr_reference(settings_for, auth):
    async with service(settings_for()) as (client, _):
        created = await client.post(
            "/v1/payments",
            json=payment_body(provider="qrbill", amount=12345, description="Carte de parking"),
            headers=auth(),
        )
        assert created.status_code == 201, created.text
        payment = created.json()
        assert payment["status"] == "pending"
        ref = payment["qr_reference"]
        assert len(ref) == 27 and ref.isdigit() and esr.is_valid(ref)

        svg = await client.get(f"/v1/payments/{payment['id']}/qr-bill.svg", headers=auth())
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        fields = qr_payload(svg.content)
        assert fields[:4] == ["SPC", "0200", "1", "CH4431999123000889012"]
        assert fields[4:7] == ["S", "Commune de Démo", "Rue du Lac"]
        assert fields[18:20] == ["123.45", "CHF"]
        assert fields[27:29] == ["QRR", ref]
        assert fields[29] == "Carte de parking"
        assert "EPD" in fields

        pdf = await client.get(f"/v1/payments/{payment['id']}/qr-bill.pdf?lang=de", headers=auth())
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

        # The citizen's page shows the bill, reachable without a token through its own URL.
        page = await client.get(payment["next_url"].removeprefix("http://testserver"))
        assert page.status_code == 200 and "qr-bill.svg" in page.text
        public_svg = await client.get(
            payment["next_url"].removeprefix("http://testserver") + "/qr-bill.svg?lang=it"
        )
        assert qr_payload(public_svg.content)[27:29] == ["QRR", ref]

        sandbox = (await client.post("/v1/payments", json=payment_body(), headers=auth())).json()
        assert_problem(
            await client.get(f"/v1/payments/{sandbox['id']}/qr-bill.svg", headers=auth()),
            409,
            "not-a-qr-bill",
        )


async def test_a_camt054_file_marks_matching_bills_paid_and_reports_the_rest(
    settings_for, auth, tenant, nats_server
):
    async with (
        EventRecorder(nats_server.url, tenant=tenant) as tap,
        service(settings_for()) as (client, _),
    ):
        bills = []
        for amount in (15000, 8000):
            created = await client.post(
                "/v1/payments", json=payment_body(provider="qrbill", amount=amount), headers=auth()
            )
            bills.append(created.json())
        paid, underpaid = bills
        unknown_ref = "210000000003139471430009017"
        xml = camt054(
            [
                (paid["qr_reference"], "150.00", "CHF", "CRDT"),
                (underpaid["qr_reference"], "79.95", "CHF", "CRDT"),
                (unknown_ref, "20.00", "CHF", "CRDT"),
                (None, "5.00", "CHF", "CRDT"),
                (paid["qr_reference"], "150.00", "CHF", "DBIT"),
            ]
        )
        result = await client.post(
            "/v1/reconciliations/camt054",
            content=xml,
            headers={**auth(), "Content-Type": "application/xml"},
        )
        assert result.status_code == 200, result.text
        report = result.json()
        assert report["matched"] == 1 and report["unmatched"] == 4
        outcomes = [(line["outcome"], line["payment_id"]) for line in report["lines"]]
        assert outcomes == [
            ("matched", paid["id"]),
            ("amount_mismatch", underpaid["id"]),
            ("unknown_reference", None),
            ("unknown_reference", None),
            ("not_a_credit", None),
        ]
        assert report["lines"][0]["amount"] == 15000 and report["lines"][1]["amount"] == 7995

        got = (await client.get(f"/v1/payments/{paid['id']}", headers=auth())).json()
        assert got["status"] == "succeeded" and got["amount_captured"] == 15000
        assert got["ledger"][-1]["cause"] == "camt054:TX-0"
        other = (await client.get(f"/v1/payments/{underpaid['id']}", headers=auth())).json()
        assert other["status"] == "pending"
        event = (await tap.wait_for("payment.succeeded"))[0]
        assert event["data"]["payment_id"] == paid["id"] and event["data"]["provider"] == "qrbill"

        # The same file again (or the next day's file repeating a line) pays nothing twice.
        again = await client.post(
            "/v1/reconciliations/camt054",
            content=xml,
            headers={**auth(), "Content-Type": "application/xml"},
        )
        assert again.json()["lines"][0]["outcome"] == "already_paid"
        assert again.json()["matched"] == 0

        # Another tenant's file cannot pay this tenant's bill.
        foreign = await client.post(
            "/v1/reconciliations/camt054",
            content=camt054([(underpaid["qr_reference"], "80.00", "CHF", "CRDT")]),
            headers={**auth(for_tenant="elsewhere"), "Content-Type": "application/xml"},
        )
        assert foreign.json()["lines"][0]["outcome"] == "unknown_reference"

        for bad in (b"<not-xml", b"<Document><Other/></Document>", b""):
            assert_problem(
                await client.post(
                    "/v1/reconciliations/camt054",
                    content=bad,
                    headers={**auth(), "Content-Type": "application/xml"},
                ),
                422,
                "invalid-camt054",
            )
        bomb = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><d>&a;</d>'
        assert_problem(
            await client.post("/v1/reconciliations/camt054", content=bomb, headers=auth()),
            422,
            "invalid-camt054",
        )
        await tap.wait_for("payment.pending", 2)
        assert len(tap.of_type("payment.succeeded")) == 1
