"""Settings of the storage service (environment variables ``SOCLE_*``)."""

from socle.config import ServiceSettings


class StorageSettings(ServiceSettings):
    database_url: str = "sqlite+aiosqlite:///var/storage.db"
