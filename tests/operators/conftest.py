"""The platform the ``socle`` command works on: five migrated databases and the servers
around them, once per test module."""

from __future__ import annotations

import pytest

from tests.support.opcli import SERVICES, platform_env


@pytest.fixture(scope="module")
def platform(migrated_database, nats_server, issuer, s3_server, smtp_sink) -> dict[str, str]:
    databases = {service: migrated_database(service) for service in SERVICES}
    return platform_env(databases, nats_server, issuer, s3_server, smtp_sink)
