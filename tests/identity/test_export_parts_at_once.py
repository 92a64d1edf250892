"""Every service's part of an export arriving at the same moment (a consumer handling its
events at once, or several replicas): the person is told once, when the last part is in."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select

from socle.db import outbox_table, utcnow
from socle.eventtypes.privacy import ExportPart
from socle.privacy import person_export_ready
from socle_identity import export_links
from socle_identity.models import Export

SERVICES = ["identity", "payment", "storage", "notify", "procedures"]


async def test_parts_recorded_at_once_tell_the_person_once(identity, commune):
    user_id = await commune.add_user(f"anna.{commune.tenant}@example.ch")
    export_id = uuid.uuid4().hex
    async with identity.sessions() as session, session.begin():
        session.add(
            Export(
                id=export_id,
                tenant=commune.tenant,
                user_id=user_id,
                requested_at=utcnow(),
                services=SERVICES,
            )
        )
    effect = export_links.part_effect(identity.app.state.runtime.settings)

    async def record(service: str) -> None:
        part = ExportPart(export_id=export_id, service=service, object=f"{service}.json")
        event = person_export_ready(tenant=commune.tenant, part=part)
        async with identity.sessions() as session, session.begin():
            await effect(session, event)

    await asyncio.gather(*(record(service) for service in SERVICES))

    async with identity.sessions() as session:
        export = await session.get(Export, export_id)
        told = await session.scalar(
            select(func.count())
            .select_from(outbox_table)
            .where(outbox_table.c.subject == f"socle.{commune.tenant}.person.export.available")
        )
    assert export is not None and export.notified_at is not None
    assert told == 1
