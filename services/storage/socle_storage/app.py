"""Application factory of the storage service."""

from fastapi import FastAPI

from socle.service import create_service_app
from socle_storage.settings import StorageSettings


def create_app(settings: StorageSettings | None = None) -> FastAPI:
    settings = settings or StorageSettings()
    return create_service_app(
        name="storage",
        settings=settings,
        routers=[],
        description="Documents on S3-compatible storage with metadata, checksums, retention and once-only sharing.",
    )
