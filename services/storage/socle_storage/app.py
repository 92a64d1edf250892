"""Application factory of the storage service."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from socle.bus import ConsumerSpec
from socle.service import Runtime, create_service_app
from socle_storage import privacy
from socle_storage.api import documents, exports, rules
from socle_storage.context import Storage
from socle_storage.purge import PurgeTask
from socle_storage.scanning import make_scanner
from socle_storage.settings import StorageSettings
from socle_storage.store import Store

PUBLIC_ROUTES: frozenset[str] = frozenset()
"""Every storage route needs an access token (presigned links go to the store directly)."""


def create_app(settings: StorageSettings | None = None) -> FastAPI:
    settings = settings or StorageSettings()
    store = Store(settings)
    scanner = make_scanner(settings.clamd_url, settings.clamd_timeout_seconds)
    tasks: dict[str, PurgeTask] = {}

    async def start(runtime: Runtime) -> None:
        storage = Storage(
            settings=settings,
            sessions=runtime.sessions,
            store=store,
            scanner=scanner,
            report_backlog=runtime.metrics.report_backlog if runtime.metrics else None,
        )
        runtime.extras["storage"] = storage
        tasks["purge"] = PurgeTask(storage)
        tasks["purge"].start()

    async def stop(runtime: Runtime) -> None:
        if "purge" in tasks:
            await tasks.pop("purge").stop()
        store.close()

    def consumers(runtime: Runtime) -> Sequence[ConsumerSpec]:
        storage = runtime.extras["storage"]
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
        consumers=consumers,
        on_startup=[start],
        on_shutdown=[stop],
    )
