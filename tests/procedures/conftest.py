"""The procedures service in-process on real PostgreSQL and NATS, payment and storage beside
it (their APIs reached in-process with the caller's token), the three examples published."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from tests.support import portal
from tests.support.procedures import (
    Platform,
    platform_for,
)


@pytest.fixture(scope="session")
def procedures_database(migrated_database: Callable[[str], str]) -> str:
    return migrated_database("procedures")


@pytest.fixture(scope="session")
def payment_db(migrated_database: Callable[[str], str]) -> str:
    return migrated_database("payment")


@pytest.fixture(scope="session")
def storage_db(migrated_database: Callable[[str], str]) -> str:
    return migrated_database("storage")


@pytest.fixture
async def platform(
    procedures_database, payment_db, nats_server, issuer, tenant, storage_db, s3_server
) -> AsyncIterator[Platform]:
    async with platform_for(
        procedures_database, payment_db, nats_server, issuer, tenant, storage_db, s3_server
    ) as p:
        yield p


portal_stack = pytest.fixture(portal.portal_stack)
