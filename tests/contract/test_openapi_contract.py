"""Every service's published OpenAPI document tells the truth: schemathesis generates
requests for every operation (a bounded number each) with a valid commune-wide token, and
any 5xx, undocumented status code or undocumented content type fails the test."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from socle_dev.testing import served_in_thread
from tests.support.services import build

EXAMPLES = int(os.environ.get("SOCLE_CONTRACT_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]

SCOPES = {
    "payment": ["payments:read", "payments:write", "payments:admin"],
    "storage": ["documents:read", "documents:write"],
    "notify": ["notifications:send", "notifications:admin", "notifications:read"],
    "procedures": ["procedures:read", "procedures:write", "procedures:admin"],
}


def exercise(base_url: str, headers: dict[str, str]) -> list[str]:
    document = httpx.get(f"{base_url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(
        1 for item in document["paths"].values() for method in item if method != "parameters"
    )
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=30)
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except Exception as exc:
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    return failures


@pytest.mark.parametrize("service", ["payment", "storage", "notify", "procedures"])
def test_openapi_tells_the_truth(service, migrated_database, nats_server, issuer, tenant, request):
    extra: dict[str, Any] = {}
    if service == "storage":
        s3 = request.getfixturevalue("s3_server")
        extra = {
            "s3_endpoint": s3.endpoint,
            "s3_access_key": s3.access_key,
            "s3_secret_key": s3.secret_key,
        }
    app = build(
        service,
        database_url=migrated_database(service),
        nats_url=nats_server.url,
        issuer=issuer.issuer,
        jwks_url=issuer.jwks_url,
        **extra,
    )
    token = issuer.token(
        audience=f"socle-{service}",
        tenant=tenant,
        scopes=SCOPES[service],
        subject="contract-client",
        client_id="contract-client",
        roles=["admin"],
        lifetime=3600,
    )
    with served_in_thread(app) as base_url:
        failures = exercise(base_url, {"Authorization": f"Bearer {token}"})
    assert not failures, "\n\n".join(failures)


async def _identity_admin_client(database_url: str, tenant: str) -> tuple[str, str]:
    from socle.db import create_engine, create_sessionmaker
    from tests.support.identity import back_office, tenant_with_client

    engine = create_engine(database_url)
    try:
        client, secret = await tenant_with_client(
            create_sessionmaker(engine), tenant, back_office(["identity:admin"], "Contract")
        )
    finally:
        await engine.dispose()
    assert secret is not None
    return client.client_id, secret


def test_identity_openapi_tells_the_truth(migrated_database, nats_server, tenant):
    from socle_identity.app import create_app
    from tests.support.identity import quick_settings

    database_url = migrated_database("identity")
    app = create_app(
        quick_settings(
            database_url,
            nats_server.url,
            "http://testserver",
        )
    )
    with served_in_thread(app) as base_url:
        client_id, secret = asyncio.run(_identity_admin_client(database_url, tenant))
        answer = httpx.post(
            f"{base_url}/token",
            data={"grant_type": "client_credentials", "scope": "identity:admin"},
            auth=(client_id, secret),
        )
        assert answer.status_code == 200, answer.text
        token = answer.json()["access_token"]
        failures = exercise(base_url, {"Authorization": f"Bearer {token}"})
    assert not failures, "\n\n".join(failures)
