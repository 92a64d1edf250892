"""``python -m socle_storage migrate|serve|purge``."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from sqlalchemy import func, select

from socle.cli import main as cli_main
from socle.config import ServiceSettings
from socle.db import create_engine, create_sessionmaker
from socle.offboarding import OffboardRefused, Outside
from socle.telemetry import configure_logging
from socle_storage.app import create_app
from socle_storage.context import Storage
from socle_storage.models import Document
from socle_storage.purge import purge_once
from socle_storage.scanning import make_scanner
from socle_storage.settings import StorageSettings
from socle_storage.store import Store, tenant_prefix

MIGRATIONS = Path(__file__).parent / "migrations"


async def _purge(settings: StorageSettings) -> int:
    configure_logging("storage", settings.log_level)
    engine = create_engine(settings.database_url)
    store = Store(settings)
    try:
        storage = Storage(
            settings=settings,
            sessions=create_sessionmaker(engine),
            store=store,
            scanner=make_scanner(settings.clamd_url, settings.clamd_timeout_seconds),
        )
        report = await purge_once(storage)
    finally:
        store.close()
        await engine.dispose()
    print(
        f"purged {report.purged} documents, {report.failed} deferred, "
        f"{report.reconciled} abandoned uploads removed"
    )
    return 1 if report.failed else 0


def _run_purge(settings: ServiceSettings, args: argparse.Namespace) -> int:
    assert isinstance(settings, StorageSettings)
    return asyncio.run(_purge(settings))


async def _remove_objects(settings: ServiceSettings, tenant: str, apply: bool) -> Outside:
    """Offboarding: the bytes of every document of the tenant, in S3 (its bucket's prefix).
    Refused while a document is on legal hold: the hold wins until someone releases it
    (``PUT /v1/documents/{id}/legal-hold``)."""
    assert isinstance(settings, StorageSettings)
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            held = await connection.scalar(
                select(func.count())
                .select_from(Document)
                .where(Document.tenant == tenant, Document.legal_hold.is_(True))
            )
    finally:
        await engine.dispose()
    if held and apply:
        raise OffboardRefused(
            f"{held} document(s) of {tenant} are on legal hold: nothing was deleted; release "
            "the holds (PUT /v1/documents/{id}/legal-hold) once the documents are handed "
            "over, then run again"
        )
    store = Store(settings)
    try:
        bucket = store.bucket_for(tenant)
        found = await store.list_prefix(bucket, tenant_prefix(tenant), recursive=True)
        for item in found if apply else []:
            await store.remove(bucket, str(item.object_name))
    finally:
        store.close()
    return Outside({"s3_objects": len(found)}, held=int(held or 0))


def main(argv: list[str] | None = None) -> int:
    return cli_main(
        name="storage",
        settings_cls=StorageSettings,
        create_app=create_app,
        migrations=MIGRATIONS,
        default_port=8003,
        commands={
            "purge": (
                "remove documents past retention (and abandoned uploads) now; the events "
                "are published by the running service",
                lambda parser: None,
                _run_purge,
            )
        },
        offboard_hook=_remove_objects,
        argv=argv,
    )


if __name__ == "__main__":
    raise SystemExit(main())
