"""Export of a person's data (right of access), per service: each service's part of a
``person.export.requested`` holds the person's data from its own database and nothing of
another person, and the service records ``person.export.ready`` naming where the part lies.
Real services (in-process), PostgreSQL, NATS and S3."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from socle.events import CloudEvent
from socle.outbox import outbox_table
from socle.privacy import (
    PERSON_EXPORT_READY,
    PERSON_EXPORT_REQUESTED,
    ExportRequest,
    export_effect,
    part_key,
)
from socle_notify import privacy as notify_privacy
from socle_payment import privacy as payment_privacy
from socle_procedures import privacy as procedures_privacy
from socle_storage import privacy as storage_privacy
from tests.support.privacy import (
    EMAIL,
    admin_token,
    citizen_with_records,
    platform,
)

COLLECTORS: dict[str, Any] = {
    "storage": storage_privacy.export_person,
    "payment": payment_privacy.export_person,
    "notify": notify_privacy.export_person,
    "procedures": procedures_privacy.export_person,
}
BOB = "bob@example.ch"


async def test_each_service_exports_the_person_s_data_and_nobody_else_s(
    migrated_database, nats_server, s3_server, tenant
):
    async with platform(migrated_database, nats_server, s3_server) as (
        identity,
        issuer,
        apps,
        clients,
    ):
        auth = {"Authorization": f"Bearer {await admin_token(identity, issuer, tenant)}"}
        person, card, paid, mail, asked = await citizen_with_records(
            identity, tenant, apps, clients, auth, EMAIL
        )
        other, bobs_card, bobs_payment, bobs_mail, bobs_request = await citizen_with_records(
            identity, tenant, apps, clients, auth, BOB
        )

        event = CloudEvent.new(
            service="identity",
            type=PERSON_EXPORT_REQUESTED,
            tenant=tenant,
            subject=f"user:{person}",
            data={"user_id": person},
        )
        written: dict[str, bytes] = {}

        async def keep(request: ExportRequest, service: str, body: bytes) -> str:
            key = part_key(request.export_id, service)
            written[key] = body
            return key

        parts: dict[str, dict[str, Any]] = {}
        for service, collect in COLLECTORS.items():
            sessions = apps[service].state.runtime.sessions
            async with sessions() as session, session.begin():
                await export_effect(service, collect, keep)(session, event)
            async with sessions() as session:
                (ready,) = (
                    await session.execute(
                        select(outbox_table.c.payload).where(
                            outbox_table.c.aggregate == f"export:{event.id}"
                        )
                    )
                ).scalars()
            body = json.loads(written[part_key(event.id, service)])
            parts[service] = body["data"]
            text = bytes(ready).decode()
            assert PERSON_EXPORT_READY in text and part_key(event.id, service) in text
            assert EMAIL not in text and "Anna" not in text  # the event names, never tells
            dumped = json.dumps(body)
            assert BOB not in dumped and other not in dumped

        assert [d["id"] for d in parts["storage"]["documents"]] == [card]
        assert bobs_card not in json.dumps(parts["storage"])
        (payment,) = parts["payment"]["payments"]
        assert payment["id"] == paid and payment["payer_email"] == EMAIL
        assert bobs_payment not in json.dumps(parts["payment"])
        (sent,) = parts["notify"]["notifications"]
        assert sent["id"] == mail and "Anna Muster" in sent["body"]
        assert bobs_mail not in json.dumps(parts["notify"])
        (request,) = parts["procedures"]["requests"]
        assert request["id"] == asked and request["answers"]["dog"] == "Rex"
        assert bobs_request not in json.dumps(parts["procedures"])
        assert parts["procedures"]["request_history"][0]["to_state"] == "submitted"
