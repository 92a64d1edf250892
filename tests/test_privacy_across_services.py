"""A person erased at identity is erased everywhere: identity (real HTTP) publishes
``user.deleted``; storage, payment, notify and procedures (in-process, real NATS, PostgreSQL
and S3) apply their rule once and answer ``person.erased``; identity's report completes.
Each service's data is checked in its own database and in the object store."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from socle.events import CloudEvent
from socle_dev.testing import eventually
from socle_identity import lifecycle
from socle_notify.models import Notification
from socle_payment.models import Payment
from socle_procedures.models import Request, RequestHistory
from socle_storage.models import Document, DocumentVersion
from tests.support.privacy import (
    EMAIL,
    SERVICES,
    admin_token,
    citizen,
    notification,
    pay,
    platform,
    procedure_request,
    row,
    until_status,
    upload,
)


async def test_a_person_erased_at_identity_is_erased_in_every_service(
    migrated_database, nats_server, s3_server, tenant
):
    async with platform(migrated_database, nats_server, s3_server) as (
        identity,
        issuer,
        apps,
        clients,
    ):
        auth = {"Authorization": f"Bearer {await admin_token(identity, issuer, tenant)}"}
        person = await citizen(identity, tenant, EMAIL)
        other = await citizen(identity, tenant, "bob@example.ch")
        rules = await clients["storage"].put(
            "/v1/rules",
            headers=auth,
            json={
                "max_size_bytes": 10_000_000,
                "allowed_content_types": ["application/pdf"],
                "default_retention_days": 3650,
                "retention_days": {"tax-return": 3650},
            },
        )
        assert rules.status_code == 200, rules.text
        id_card = await upload(clients["storage"], auth, person, "id-card")
        tax = await upload(clients["storage"], auth, person, "tax-return")
        held = await upload(clients["storage"], auth, person, "id-card")
        bobs = await upload(clients["storage"], auth, other, "id-card")
        hold = await clients["storage"].put(
            f"/v1/documents/{held}/legal-hold",
            headers=auth,
            json={"hold": True, "reason": "court case 12/2026"},
        )
        assert hold.status_code == 200, hold.text
        async with apps["storage"].state.runtime.sessions() as session:
            (card_version,) = (
                await session.execute(
                    select(DocumentVersion).where(DocumentVersion.document_id == id_card)
                )
            ).scalars()
        store = apps["storage"].state.runtime.context.store
        assert await store.exists(card_version.bucket, card_version.object_key)

        paid = await pay(clients["payment"], auth, person, EMAIL)
        bobs_payment = await pay(clients["payment"], auth, other, "bob@example.ch")
        mail = await notification(apps["notify"], tenant, person, EMAIL)
        bobs_mail = await notification(apps["notify"], tenant, other, "bob@example.ch")
        draft = await procedure_request(apps["procedures"], tenant, person, EMAIL, None)
        kept = await procedure_request(apps["procedures"], tenant, person, EMAIL, 365)
        # one record of each under legal hold: the erasure leaves them as they are
        held_payment = await pay(clients["payment"], auth, person, EMAIL)
        held_mail = await notification(apps["notify"], tenant, person, EMAIL)
        held_request = await procedure_request(apps["procedures"], tenant, person, EMAIL, None)
        for service, path in (
            ("payment", f"payments/{held_payment}"),
            ("notify", f"notifications/{held_mail}"),
            ("procedures", f"requests/{held_request}"),
        ):
            put = await clients[service].put(
                f"/v1/legal-holds/{path}", headers=auth, json={"reason": "court case 12/2026"}
            )
            assert put.status_code == 200, put.text

        async with httpx.AsyncClient(base_url=issuer, headers=auth, timeout=30) as http:
            deleted = await http.delete(f"/v1/users/{person}")
            assert deleted.status_code == 204, deleted.text
            report_url = deleted.headers["location"]

            async def complete() -> bool:
                answer = await http.get(report_url)
                assert answer.status_code == 200, answer.text
                return bool(answer.json()["status"] == "complete")

            await eventually(complete, "every service to answer person.erased", within=30)
            report = (await http.get(report_url)).json()
            unknown = await http.get("/v1/erasures/nope")
            assert unknown.status_code == 404
            assert unknown.headers["content-type"] == "application/problem+json"

        answers = {s["service"]: s for s in report["services"]}
        assert set(answers) == set(SERVICES)
        assert report["silent"] == []
        assert EMAIL not in str(report) and "Anna" not in str(report)
        # storage: the id card is gone (row and bytes), the held and retained ones are kept
        assert answers["storage"]["erased"]["documents"] == 1
        reasons = {k["reason"]: k["count"] for k in answers["storage"]["kept"]}
        assert reasons["legal_hold"] == 1 and reasons["retention"] == 1

        async def card_purged() -> bool:
            return await row(apps["storage"], Document, id_card) is None

        await eventually(card_purged, "the erased document to be purged")
        assert not await store.exists(card_version.bucket, card_version.object_key)
        for kept_doc in (tax, held):
            doc = await row(apps["storage"], Document, kept_doc)
            assert doc.status == "active" and doc.erasure_requested_at is not None
        assert (await row(apps["storage"], Document, bobs)).erasure_requested_at is None
        # payment: the record stays, the payer is pseudonymised
        payment = await row(apps["payment"], Payment, paid)
        assert payment.amount == 5000 and payment.payer_email is None
        assert payment.payer_subject != person and payment.payer_subject.startswith("erased-")
        assert payment.meta == {}
        assert (await row(apps["payment"], Payment, bobs_payment)).payer_email == "bob@example.ch"
        assert answers["payment"]["pseudonymised"] == {"payments": 1}
        # notify: status kept, address and contents erased
        sent = await row(apps["notify"], Notification, mail)
        assert sent.status == "delivered" and sent.recipient == "[erased]"
        assert "Anna" not in sent.body and sent.subject is None
        assert sent.recipient_subject != person
        assert (await row(apps["notify"], Notification, bobs_mail)).recipient == "bob@example.ch"
        # procedures: the request without retention is anonymised, the other kept
        anonymous = await row(apps["procedures"], Request, draft)
        assert anonymous.owner != person and anonymous.answers == {}
        assert anonymous.email is None and anonymous.state == "submitted"
        async with apps["procedures"].state.runtime.sessions() as session:
            notes = (
                await session.execute(
                    select(RequestHistory).where(RequestHistory.request_id == draft)
                )
            ).scalars()
            assert [(h.actor != person, h.note) for h in notes] == [(True, None)]
        retained = await row(apps["procedures"], Request, kept)
        assert retained.owner == person and retained.erasure_requested_at is not None
        assert answers["procedures"]["kept"][0]["reason"] == "retention"
        # legal hold: kept untouched, and said so in each service's answer
        for service in ("payment", "notify", "procedures"):
            held = [k for k in answers[service]["kept"] if k["reason"] == "legal_hold"]
            assert [k["count"] for k in held] == [1], answers[service]
        untouched = await row(apps["payment"], Payment, held_payment)
        assert untouched.payer_email == EMAIL and untouched.payer_subject == person
        assert (await row(apps["notify"], Notification, held_mail)).recipient == EMAIL
        assert (await row(apps["procedures"], Request, held_request)).owner == person


async def test_the_same_erasure_delivered_twice_has_one_effect_and_one_answer(
    migrated_database, nats_server, s3_server, tenant
):
    async with platform(migrated_database, nats_server, s3_server) as (
        identity,
        issuer,
        apps,
        clients,
    ):
        auth = {"Authorization": f"Bearer {await admin_token(identity, issuer, tenant)}"}
        person = await citizen(identity, tenant, EMAIL)
        paid = await pay(clients["payment"], auth, person, EMAIL)
        async with httpx.AsyncClient(base_url=issuer, headers=auth, timeout=30) as http:
            deleted = await http.delete(f"/v1/users/{person}")
            report_url = deleted.headers["location"]
            await until_status(http, report_url, "complete", "every service to answer", 30)
            first = (await row(apps["payment"], Payment, paid)).payer_subject
            # the bus delivers the same event again (a redelivery after a crash)
            again = CloudEvent.new(
                service="identity",
                type="user.deleted",
                tenant=tenant,
                data={"user_id": person},
            )
            again.id = report_url.rsplit("/", 1)[1]
            await apps["payment"].state.runtime.bus.publish(
                f"socle.{tenant}.user.deleted", again.to_bytes(), f"{again.id}-redelivered"
            )
            # a later, different erasure shows the redelivery was consumed in between
            marker = await citizen(identity, tenant, "marker@example.ch")
            second = await http.delete(f"/v1/users/{marker}")

            async def second_complete() -> bool:
                answer = await http.get(second.headers["location"])
                return bool(answer.json()["status"] == "complete")

            await eventually(second_complete, "the second erasure to complete", within=30)
            assert (await row(apps["payment"], Payment, paid)).payer_subject == first
            report = (await http.get(report_url)).json()
            assert report["status"] == "complete"
            assert [s["service"] for s in report["services"]] == list(SERVICES)
            missing = await http.delete(f"/v1/users/{person}")
            assert missing.status_code == 404


async def test_a_silent_service_is_named_once_the_answer_time_has_passed(
    migrated_database, nats_server, s3_server, tenant
):
    async with platform(migrated_database, nats_server, s3_server, answer_seconds=0) as (
        identity,
        issuer,
        _apps,
        _clients,
    ):
        auth = {"Authorization": f"Bearer {await admin_token(identity, issuer, tenant)}"}
        person = await citizen(identity, tenant, EMAIL)
        async with identity.state.runtime.sessions() as session, session.begin():
            erasure_id = await lifecycle.delete_user(
                session,
                tenant=tenant,
                user_id=person,
                default_ttl=300,
                erasing_services=[*SERVICES, "archive"],
            )
        async with httpx.AsyncClient(base_url=issuer, headers=auth, timeout=30) as http:

            async def only_archive_silent() -> bool:
                report = (await http.get(f"/v1/erasures/{erasure_id}")).json()
                return bool(report["silent"] == ["archive"])

            await eventually(only_archive_silent, "the four services to answer", within=30)
            report = (await http.get(f"/v1/erasures/{erasure_id}")).json()
            assert report["status"] == "overdue"
            statuses = {s["service"]: s["status"] for s in report["services"]}
            assert statuses == {**dict.fromkeys(SERVICES, "answered"), "archive": "silent"}
