"""What the storage use cases need at run time, built once by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle_storage.scanning import Scanner
from socle_storage.settings import StorageSettings
from socle_storage.store import Store


@dataclass
class Storage:
    settings: StorageSettings
    sessions: async_sessionmaker[AsyncSession]
    store: Store
    scanner: Scanner
