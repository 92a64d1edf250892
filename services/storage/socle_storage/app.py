"""Application factory of the storage service."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from socle.bus import ConsumerSpec
from socle.periodic import Periodic
from socle.service import Runtime, create_service_app
from socle_storage import privacy
from socle_storage.api import documents, exports, rules
from socle_storage.context import Storage
from socle_storage.purge import purge_loop
from socle_storage.scanning import make_scanner
from socle_storage.settings import StorageSettings
from socle_storage.store import Store

PUBLIC_ROUTES: frozenset[str] = frozenset()
"""Every storage route needs an access token (presigned links go to the store directly)."""


def create_app(settings: StorageSettings | None = None) -> FastAPI:
    settings = settings or StorageSettings()
    store = Store(settings)
    scanner = make_scanner(settings.clamd_url, settings.clamd_timeout_seconds)

    async def context(runtime: Runtime[Storage]) -> Storage:
        return Storage(
            settings=settings,
            sessions=runtime.sessions,
            store=store,
            scanner=scanner,
            report_backlog=runtime.metrics.report_backlog,
        )

    def periodic(runtime: Runtime[Storage]) -> Sequence[Periodic]:
        return [purge_loop(runtime.context)]

    async def stop(runtime: Runtime[Storage]) -> None:
        store.close()

    def consumers(runtime: Runtime[Storage]) -> Sequence[ConsumerSpec]:
        storage = runtime.context
        return [privacy.consumer(storage), privacy.export_consumer(storage)]

    return create_service_app(
        name="storage",
        settings=settings,
        routers=[documents.router, rules.router, exports.router],
        description=(
            "Documents on S3-compatible storage with metadata, checksums, retention and "
            "once-only sharing."
        ),
        readiness={"store": lambda runtime: store.check()},
        context=context,
        consumers=consumers,
        periodic=periodic,
        on_shutdown=[stop],
    )
