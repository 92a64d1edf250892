"""What the storage use cases need at run time, built once by ``create_app``."""

from __future__ import annotations

from collections.abc import Callable
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
    report_backlog: Callable[[str, int], None] | None = None
    """Where the purge reports the documents due when it starts (a metric)."""
