"""Real servers for the whole test session: NATS JetStream, PostgreSQL, S3, SMTP, a JWKS."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from socle.migrations import upgrade
from socle_dev.localinfra import NatsServer, S3Server, SmtpSink, free_port
from socle_dev.testing import TestIssuer

ROOT = Path(__file__).resolve().parent.parent


def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run blocking code that starts its own event loop, from anywhere (even inside a test)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    log = (tmp_path_factory.mktemp("nats-log") / "nats.log").open("wb")
    server = NatsServer.create(tmp_path_factory.mktemp("nats"), free_port(), log=log)
    server.start()
    yield server
    server.stop()
    log.close()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    log = (tmp_path_factory.mktemp("s3-log") / "weed.log").open("wb")
    server = S3Server.create(
        tmp_path_factory.mktemp("s3"),
        free_port(),
        "socle-test",
        "socle-test-secret-" + uuid.uuid4().hex,
        log=log,
    )
    server.start()
    yield server
    server.kill()  # a throw-away store: no need to wait for its graceful shutdown
    log.close()


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(free_port())
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLAlchemy URL (asyncpg) of a PostgreSQL server's maintenance database."""
    given = os.environ.get("SOCLE_TEST_DATABASE_URL")
    if given:
        yield given
        return
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    uri = make_url(server.get_uri()).set(drivername="postgresql+asyncpg")
    yield uri.render_as_string(hide_password=False)
    server.cleanup()


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


@pytest.fixture(scope="session")
def new_database(postgres_url: str) -> Callable[[str], str]:
    """Create an empty PostgreSQL database and return its URL."""

    def create(prefix: str) -> str:
        return create_database(postgres_url, prefix)

    return create


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


@pytest.fixture(scope="session")
def migrated_database(new_database: Callable[[str], str]) -> Callable[[str], str]:
    """A fresh PostgreSQL database with a service's migrations applied."""

    def create(service: str) -> str:
        url = new_database(service)
        migrate(url, service)
        return url

    return create


@pytest.fixture(scope="session")
def issuer() -> Iterator[TestIssuer]:
    test_issuer = TestIssuer()
    test_issuer.start()
    yield test_issuer
    test_issuer.stop()


@pytest.fixture
def tenant() -> str:
    """A tenant of its own for each test: tests never see each other's data."""
    return f"t{uuid.uuid4().hex[:10]}"
