"""A person's data exported across services: an admin asks identity (real HTTP) for a
person's data; identity publishes ``person.export.requested``; storage, payment, notify and
procedures (real NATS, PostgreSQL and S3; storage over real HTTP) each write their part to
storage and answer ``person.export.ready``; identity's export becomes ready and announced by
``person.export.available`` (no address in it: notify asks identity for it); the archive
holds the person's data from every service and nothing of another person."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import pytest

from socle.account_mails import AccountMailGone
from socle_dev.events import EventRecorder
from socle_dev.testing import eventually
from tests.support.privacy import (
    EMAIL,
    PDF,
    citizen_with_records,
)
from tests.support.privacy_export import BOB, EXPORTING, platform


async def test_an_export_gathers_the_person_s_data_from_every_service_and_nobody_else_s(
    migrated_database, nats_server, s3_server, tenant
):
    async with platform(migrated_database, nats_server, s3_server, tenant) as (
        identity,
        issuer,
        token,
        apps,
        clients,
    ):
        auth = {"Authorization": f"Bearer {token}"}
        person, card, paid, mail, asked = await citizen_with_records(
            identity, tenant, apps, clients, auth, EMAIL
        )
        other, bobs_card, bobs_payment, bobs_mail, bobs_request = await citizen_with_records(
            identity, tenant, apps, clients, auth, BOB
        )

        tap = EventRecorder(nats_server.url, tenant=tenant)
        async with tap, httpx.AsyncClient(base_url=issuer, headers=auth, timeout=30) as http:
            unknown = await http.post("/v1/users/nobody/export")
            assert unknown.status_code == 404
            assert unknown.headers["content-type"] == "application/problem+json"
            asked_for = await http.post(f"/v1/users/{person}/export")
            assert asked_for.status_code == 202, asked_for.text
            report_url = asked_for.headers["location"]

            async def ready() -> bool:
                answer = await http.get(report_url)
                assert answer.status_code == 200, answer.text
                return bool(answer.json()["status"] == "ready")

            await eventually(ready, "every service to write its export part", within=30)
            report = (await http.get(report_url)).json()
            assert (await http.get("/v1/exports/nope")).status_code == 404
            (available,) = await tap.wait_for("person.export.available")
            assert EMAIL not in json.dumps(available) and "Anna" not in json.dumps(available)
            assert available["data"]["export_id"] == report["id"]
            assert await tap.account_mail(available) == {"email": EMAIL}  # notify's lookup
            with pytest.raises(AccountMailGone):  # another tenant's question
                await tap.account_mail({**available, "tenant": "another-commune"})

        assert {s["service"] for s in report["services"]} == set(EXPORTING)
        assert report["silent"] == []
        assert EMAIL not in json.dumps(report)  # the report names parts, never tells them
        counts = {s["service"]: s["counts"] for s in report["services"]}
        assert counts["storage"]["documents"] == 1
        assert counts["payment"]["payments"] == 1

        async with httpx.AsyncClient(base_url=issuer, headers=auth, timeout=30) as http:
            archive = await http.get(f"/v1/exports/{report['id']}/archive")
        assert archive.status_code == 200, archive.text
        assert archive.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
            names = zf.namelist()
            parts = {n.removesuffix(".json"): json.loads(zf.read(n)) for n in names if "/" not in n}
            assert sorted(parts) == sorted(EXPORTING)
            files = [n for n in names if "/" in n]
            assert files == [f"documents/{card}/scan.pdf"]  # the person's file, not Bob's
            assert zf.read(files[0]) == PDF
        everything = json.dumps(parts)
        for theirs in (other, BOB, bobs_card, bobs_payment, bobs_mail, bobs_request):
            assert theirs not in everything
        assert all(p["user_id"] == person for p in parts.values())
        (account,) = parts["identity"]["data"]["account"]
        assert account["email"] == EMAIL and account["given_name"] == "Anna"
        assert "password_hash" not in account
        assert [d["id"] for d in parts["storage"]["data"]["documents"]] == [card]
        assert parts["payment"]["data"]["payments"][0]["id"] == paid
        assert parts["payment"]["data"]["payments"][0]["payer_email"] == EMAIL
        assert parts["notify"]["data"]["notifications"][0]["id"] == mail
        assert parts["procedures"]["data"]["requests"][0]["id"] == asked
        assert parts["procedures"]["data"]["requests"][0]["answers"]["dog"] == "Rex"

        missing = await clients["storage"].get("/v1/exports/nope/archive", headers=auth)
        assert missing.status_code == 404
