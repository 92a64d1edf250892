"""An erasure survives a stopped service: storage is down when a person is deleted; the
report names storage as not answered while the others answer; storage comes back, finds the
``user.deleted`` event waiting on the bus (its durable consumer), erases, and the report
completes."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

from socle_dev.localinfra import free_port
from socle_dev.testing import eventually, running, served
from socle_identity.app import create_app as create_identity
from socle_storage.models import Document
from tests.support.identity import quick_settings
from tests.support.privacy import (
    EMAIL,
    SERVICES,
    admin_token,
    citizen,
    row,
    upload,
)
from tests.support.services import build


async def test_an_erasure_waits_for_a_stopped_service_and_completes_when_it_is_back(
    migrated_database, nats_server, s3_server, tenant
):
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    identity = create_identity(
        quick_settings(
            migrated_database("identity"),
            nats_server.url,
            issuer,
            outbox_poll_seconds=0.1,
            erasure_answer_seconds=0,  # a service not answered yet is named at once
        )
    )
    storage_settings: dict[str, Any] = {
        "database_url": migrated_database("storage"),
        "nats_url": nats_server.url,
        "issuer": issuer,
        "outbox_poll_seconds": 0.1,
        "s3_endpoint": s3_server.endpoint,
        "s3_access_key": s3_server.access_key,
        "s3_secret_key": s3_server.secret_key,
    }
    async with served(identity, port), contextlib.AsyncExitStack() as others:
        for service in SERVICES[1:]:
            app = build(
                service,
                database_url=migrated_database(service),
                nats_url=nats_server.url,
                issuer=issuer,
                outbox_poll_seconds=0.1,
            )
            await others.enter_async_context(running(app))
        auth = {"Authorization": f"Bearer {await admin_token(identity, issuer, tenant)}"}
        person = await citizen(identity, tenant, EMAIL)

        storage = build("storage", **storage_settings)
        async with running(storage) as client:  # storage runs: its consumer exists
            card = await upload(client, auth, person, "id-card")
        # storage is stopped now
        async with httpx.AsyncClient(base_url=issuer, headers=auth, timeout=30) as http:
            deleted = await http.delete(f"/v1/users/{person}")
            assert deleted.status_code == 204, deleted.text
            report_url = deleted.headers["location"]

            async def report() -> dict[str, Any]:
                answer = await http.get(report_url)
                assert answer.status_code == 200, answer.text
                return dict(answer.json())

            async def only_storage_silent() -> bool:
                return (await report())["silent"] == ["storage"]

            await eventually(only_storage_silent, "every running service to answer", within=30)
            stopped = await report()
            assert stopped["status"] == "overdue"
            statuses = {s["service"]: s["status"] for s in stopped["services"]}
            assert statuses == {**dict.fromkeys(SERVICES[1:], "answered"), "storage": "silent"}
            assert await row(storage, Document, card) is not None  # nothing erased yet

            restarted = build("storage", **storage_settings)
            async with running(restarted):

                async def complete() -> bool:
                    return (await report())["status"] == "complete"

                await eventually(complete, "storage to answer once back", within=30)

                async def card_purged() -> bool:
                    return await row(restarted, Document, card) is None

                await eventually(card_purged, "the erased document to be purged")
            done = await report()
            assert done["silent"] == []
            (answer,) = [s for s in done["services"] if s["service"] == "storage"]
            assert answer["erased"] == {"documents": 1}
