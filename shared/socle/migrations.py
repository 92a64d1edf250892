"""Alembic, driven from code: each service's ``migrations/env.py`` calls :func:`run_env`;
:func:`check` and :class:`SchemaCheck` tell whether a database's schema is at the code's head
(``migrate --check`` and readiness)."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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


class SchemaNotAtHead(RuntimeError):
    """The database's schema is older than the code: its migrations have not run yet."""


@dataclass(frozen=True)
class SchemaState:
    current: tuple[str, ...]
    """Revisions recorded in the database (empty: never migrated)."""
    heads: tuple[str, ...]
    """The code's head revisions."""
    behind: bool
    """The code expects migrations the database has not had."""

    def describe(self) -> str:
        current = ", ".join(self.current) or "no schema"
        heads = ", ".join(self.heads)
        if not self.behind:
            return f"schema at {current} (code head {heads})"
        return f"schema behind: database at {current}, code expects {heads}"


def script_location_of(service: str) -> Path | None:
    """The migrations folder of the package ``socle_<service>``, if it has one."""
    spec = importlib.util.find_spec(f"socle_{service}")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "migrations"
    return folder if (folder / "env.py").exists() else None


def _state(script: ScriptDirectory, current: Iterable[str]) -> SchemaState:
    heads = tuple(sorted(script.get_heads()))
    current = tuple(sorted(current))
    known = {rev.revision for rev in script.walk_revisions()}
    # A revision the code does not know was written by a newer release (expand/contract:
    # the previous release keeps serving on the newer schema during a rollout or rollback).
    newer = bool(current) and not set(current) <= known
    return SchemaState(current, heads, behind=not newer and set(current) != set(heads))


async def _current(conn: AsyncConnection) -> list[str]:
    try:
        rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
    except DBAPIError:
        return []  # no alembic_version table: nothing migrated yet
    return [row[0] for row in rows]


async def schema_state(engine: AsyncEngine, script: ScriptDirectory) -> SchemaState:
    async with engine.connect() as conn:
        return _state(script, await _current(conn))


def check(script_location: Path, database_url: str) -> SchemaState:
    """Where the database stands against the code (blocking; for ``migrate --check``)."""
    script = ScriptDirectory.from_config(alembic_config(script_location, database_url))

    async def _run() -> SchemaState:
        engine = create_engine(database_url, poolclass=pool.NullPool)
        try:
            return await schema_state(engine, script)
        finally:
            await engine.dispose()

    return asyncio.run(_run())


class SchemaCheck:
    """Readiness: refuse traffic while the database's schema is behind the code.

    Once seen at (or past) the head, the answer is kept: a schema does not go back.
    """

    def __init__(self, script_location: Path) -> None:
        self.script = ScriptDirectory(str(script_location))
        self._ready = False

    async def __call__(self, engine: AsyncEngine) -> None:
        if self._ready:
            return
        state = await schema_state(engine, self.script)
        if state.behind:
            raise SchemaNotAtHead(state.describe())
        self._ready = True


def schema_check_for(service: str) -> SchemaCheck | None:
    """The readiness check of ``socle_<service>``'s schema, if the package has migrations."""
    location = script_location_of(service)
    return SchemaCheck(location) if location else None
