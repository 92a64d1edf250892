"""Real servers and databases tests start themselves, and running blocking code from a test."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from socle.migrations import upgrade

ROOT = Path(__file__).resolve().parents[2]


def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run blocking code that starts its own event loop, from anywhere (even inside a test)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def create_database(server_url: str, prefix: str) -> str:
    """Create an empty database on the PostgreSQL server of ``server_url``; its URL."""
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    url = make_url(server_url)

    async def _create() -> None:
        conn = await asyncpg.connect(
            user=url.username,
            password=url.password or None,
            database=url.database,
            host=url.query.get("host") or url.host,
            port=url.port,
        )
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    in_thread(asyncio.run, _create())
    return url.set(database=name).render_as_string(hide_password=False)


class PrivatePostgres:
    """A PostgreSQL server of the test's own, which the test may stop and start again."""

    def __init__(self, directory: Path) -> None:
        import pgserver

        self.server: Any = pgserver.get_server(directory, cleanup_mode="stop")

    @property
    def url(self) -> str:
        from sqlalchemy.engine import make_url

        uri = make_url(self.server.get_uri()).set(drivername="postgresql+asyncpg")
        return uri.render_as_string(hide_password=False)

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(
            ["-w", "-m", "immediate", "stop"],
            pgdata=self.server.pgdata,
            user=self.server.system_user,
        )

    def start(self) -> None:
        with self.server._lock:
            self.server.ensure_postgres_running()

    def close(self) -> None:
        self.server.cleanup()


def migrate(url: str, service: str) -> None:
    """Apply a service's migrations to the database at ``url``."""
    in_thread(upgrade, ROOT / "services" / service / f"socle_{service}" / "migrations", url)
