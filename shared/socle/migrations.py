"""Alembic, driven from code: each service's ``migrations/env.py`` calls :func:`run_env`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection

from socle.db import create_engine, infra_metadata


def alembic_config(script_location: Path, database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(script_location: Path, database_url: str, revision: str = "head") -> None:
    """Apply the service's migrations up to ``revision`` (blocking; run before serving)."""
    command.upgrade(alembic_config(script_location, database_url), revision)


def _run_sync(connection: Connection, metadata: list[MetaData]) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str, metadata: list[MetaData]) -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as conn:
        await conn.run_sync(_run_sync, metadata)
        await conn.commit()
    await engine.dispose()


def run_env(service_metadata: MetaData) -> None:
    """Body of a service's Alembic ``env.py``: migrate its tables and the shared ones."""
    url = context.config.attributes.get("database_url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("migrations: no database URL given (set SOCLE_DATABASE_URL)")
    metadata = [service_metadata, infra_metadata]
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_async(url, metadata))
