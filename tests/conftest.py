"""Real servers for the whole test session: NATS JetStream, PostgreSQL, S3, SMTP, a JWKS."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from socle_dev.localinfra import NatsServer, S3Server, SmtpSink, free_port
from socle_dev.testing import TestIssuer
from tests.support.infra import create_database, migrate


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    log = (tmp_path_factory.mktemp("nats-log") / "nats.log").open("wb")
    server = NatsServer.create(tmp_path_factory.mktemp("nats"), free_port(), log=log)
    server.start()
    yield server
    server.stop()
    log.close()


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A NATS server of one test's own: for tests whose services answer each other over
    request-reply and durable consumers, so that no service left from an earlier test (on
    the session's server, with its own database) takes their requests or their events."""
    server = NatsServer.create(tmp_path / "nats", free_port())
    server.start()
    yield server
    server.stop()


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


@pytest.fixture(scope="session")
def new_database(postgres_url: str) -> Callable[[str], str]:
    """Create an empty PostgreSQL database and return its URL."""

    def create(prefix: str) -> str:
        return create_database(postgres_url, prefix)

    return create


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
