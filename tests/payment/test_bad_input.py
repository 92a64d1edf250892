"""Absurd input answers a 4xx problem at once: never a 500, never a stalled service."""

from __future__ import annotations

import base64

import pytest

from socle_dev.testing import assert_problem
from tests.support.html import csrf_of
from tests.support.payment import camt054, payment_body, service

CAMT = "/v1/reconciliations/camt054"


@pytest.mark.parametrize(
    "amount",
    [
        "1E+999990",
        "1e5",
        "Infinity",
        "-Infinity",
        "NaN",
        "sNaN",
        "-150.00",
        "+150.00",
        "0x10",
        "1_000.00",
        "999999999999999999999999999999",
        "999999999999999999",  # 18 digits: ISO allows it, but no bigint holds its centimes
        "150.001",
        "1.000001",
        " ",
    ],
)
async def test_a_camt054_amount_that_is_no_amount_is_refused_naming_its_entry(
    settings_for, auth, amount
):
    async with service(settings_for()) as (client, _):
        bill = (
            await client.post("/v1/payments", json=payment_body(provider="qrbill"), headers=auth())
        ).json()
        xml = camt054(
            [
                (bill["qr_reference"], "1.00", "CHF", "CRDT"),
                (bill["qr_reference"], amount, "CHF", "CRDT"),
            ]
        )
        response = await client.post(
            CAMT, content=xml, headers={**auth(), "Content-Type": "application/xml"}
        )
        problem = assert_problem(response, 422, "invalid-camt054")
        assert "entry 2 of notification 1 (BANK-1)" in problem["detail"]
        assert problem["errors"][0]["field"] == "Ntfctn[1]/Ntry[2]/TxDtls[1]/Amt"
        # Nothing of the file was applied, and the service still answers.
        got = (await client.get(f"/v1/payments/{bill['id']}", headers=auth())).json()
        assert got["status"] == "pending"


async def test_a_camt054_currency_that_is_no_currency_is_refused(settings_for, auth):
    async with service(settings_for()) as (client, _):
        xml = camt054([(None, "10.00", "C" * 5000, "CRDT")])
        problem = assert_problem(
            await client.post(CAMT, content=xml, headers={**auth(), "Content-Type": "text/xml"}),
            422,
            "invalid-camt054",
        )
        assert "entry 1 of notification 1" in problem["detail"]
        assert len(problem["detail"]) < 300


async def test_an_18_digit_amount_that_fits_is_read(settings_for, auth):
    async with service(settings_for()) as (client, _):
        xml = camt054([(None, "9223372036854775.80", "CHF", "CRDT")])
        response = await client.post(
            CAMT, content=xml, headers={**auth(), "Content-Type": "application/xml"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["lines"][0]["amount"] == 922337203685477580


@pytest.mark.parametrize(
    "params",
    [
        {"created_from": "2026-01-01T00:00:00"},  # no offset
        {"created_to": "2026-01-01"},  # a date alone is no instant
        {"created_from": "9999-12-31T23:59:59-05:00"},  # after 9999 once in UTC
        {"created_to": "0001-01-01T00:00:00+05:00"},  # before year 1 once in UTC
        {"created_from": "2026-01-01T24:00:00Z"},
        {"created_from": "10000-01-01T00:00:00Z"},
    ],
)
async def test_list_dates_need_an_offset_and_a_real_instant(settings_for, auth, params):
    async with service(settings_for()) as (client, _):
        problem = assert_problem(
            await client.get("/v1/payments", params=params, headers=auth()),
            422,
            "validation-error",
        )
        assert next(iter(params)) in str(problem["errors"])


async def test_year_9999_in_utc_is_a_correct_empty_or_full_answer(settings_for, auth):
    async with service(settings_for()) as (client, _):
        await client.post("/v1/payments", json=payment_body(), headers=auth())
        late = await client.get(
            "/v1/payments", params={"created_from": "9999-12-31T23:59:59.999999Z"}, headers=auth()
        )
        assert late.status_code == 200 and late.json()["items"] == []
        everything = await client.get(
            "/v1/payments", params={"created_to": "9999-12-31T23:59:59+00:00"}, headers=auth()
        )
        assert len(everything.json()["items"]) == 1
        report = await client.get(
            "/v1/reports/payments.csv?from=0001-01-01&to=9999-12-31", headers=auth()
        )
        assert report.status_code == 200 and len(report.text.splitlines()) == 2
        far = await client.get(
            "/v1/reports/payments.csv?from=9999-12-31&to=9999-12-31", headers=auth()
        )
        assert far.status_code == 200 and len(far.text.splitlines()) == 1
        assert_problem(
            await client.get(
                "/v1/reports/payments.csv?from=2026-01-01&to=10000-01-01", headers=auth()
            ),
            422,
            "validation-error",
        )


def forged(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        forged("9999-12-31T23:59:59-05:00|ffff"),  # past the last day once in UTC
        forged("0001-01-01T00:00:00+14:00|0000"),
        forged("2026-01-01T24:00:00+00:00|x"),
        forged("2026-01-01T00:00:00|x"),  # no offset
        forged("nonsense"),
        "%%%",
        "é" * 10,
        "A" * 500,
    ],
)
async def test_a_forged_cursor_is_a_422(settings_for, auth, cursor):
    async with service(settings_for()) as (client, _):
        assert_problem(
            await client.get("/v1/payments", params={"cursor": cursor}, headers=auth()),
            422,
            "invalid-cursor",
        )


async def test_a_cursor_on_the_last_instant_of_9999_is_a_correct_answer(settings_for, auth):
    async with service(settings_for()) as (client, _):
        await client.post("/v1/payments", json=payment_body(), headers=auth())
        cursor = forged("9999-12-31T23:59:59.999999+00:00|ffffffff")
        page = await client.get("/v1/payments", params={"cursor": cursor}, headers=auth())
        assert page.status_code == 200 and len(page.json()["items"]) == 1


@pytest.mark.parametrize("token", ["é" * 32, "\u202e" + "a" * 31, "a" * 31 + "\udcff"])
async def test_a_non_ascii_csrf_token_is_a_forbidden_form_not_a_500(settings_for, auth, token):
    async with service(settings_for()) as (client, _):
        payment = (await client.post("/v1/payments", json=payment_body(), headers=auth())).json()
        path = payment["next_url"].removeprefix("http://testserver")
        page = await client.get(path)
        csrf_of(page.text)
        forged_form = await client.post(
            path,
            content=f"card_number=4242424242424242&csrf_token={token}".encode(
                "utf-8", "surrogateescape" if "\udcff" in token else "strict"
            ),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert forged_form.status_code == 403
        client.cookies.set("socle_pay_csrf", "x", path=path)
        cookie_only = await client.post(
            path, data={"card_number": "4242424242424242", "csrf_token": "é"}
        )
        assert cookie_only.status_code == 403
        got = (await client.get(f"/v1/payments/{payment['id']}", headers=auth())).json()
        assert got["status"] == "pending"
