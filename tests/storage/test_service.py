"""The service as an operator and a commune developer meet it: tokens on every route,
the published API description, settings refusing unsafe production values."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from socle_dev.testing import assert_problem, running
from socle_storage.app import PUBLIC_ROUTES, create_app
from socle_storage.settings import StorageSettings


async def test_every_storage_route_answers_401_without_a_token(settings_for):
    app = create_app(settings_for())
    async with running(app) as client:
        spec = (await client.get("/openapi.json")).json()
        checked = 0
        for template, operations in spec["paths"].items():
            if template in PUBLIC_ROUTES or not template.startswith("/v1/"):
                continue
            path = re.sub(r"\{[^}]+\}", "0" * 32, template)
            for method in operations:
                assert_problem(await client.request(method, path), 401, "missing-token")
                checked += 1
        assert checked == 18  # with the export parts, archive and deletion


async def test_openapi_describes_the_streamed_upload(client):
    spec = (await client.get("/openapi.json")).json()
    upload = spec["paths"]["/v1/documents"]["post"]
    schema = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["file", "kind"]
    assert {"413", "415", "422", "503"} <= set(upload["responses"])
    assert "Idempotency-Key" in [p["name"] for p in upload["parameters"]]
    content = spec["paths"]["/v1/documents/{document_id}/content"]
    assert {"206", "304", "416"} <= set(content["get"]["responses"])
    assert "put" in content


def test_production_refuses_the_development_secret_and_sqlite():
    with pytest.raises(ValidationError, match="SOCLE_S3_SECRET_KEY"):
        StorageSettings(environment="production", database_url="postgresql+asyncpg://x/y")
    with pytest.raises(ValidationError, match="SOCLE_DATABASE_URL"):
        StorageSettings(environment="production", s3_secret_key="a-real-secret")
    with pytest.raises(ValidationError, match="SOCLE_S3_SSE"):
        StorageSettings(s3_sse="rot13")
    with pytest.raises(ValidationError, match="5 MiB"):
        StorageSettings(s3_part_size_bytes=1024)
    ok = StorageSettings(
        environment="production",
        s3_secret_key="a-real-secret",
        database_url="postgresql+asyncpg://x/y",
        issuer="https://login.vevey.ch",
    )
    assert create_app(ok).title == "Socle storage"


async def test_runs_on_sqlite_as_make_run_does(started, auth, tmp_path):
    from socle.migrations import upgrade
    from socle_storage.__main__ import MIGRATIONS
    from tests.support.infra import in_thread
    from tests.support.storage import PDF, upload

    url = f"sqlite+aiosqlite:///{tmp_path / 'storage.db'}"
    in_thread(upgrade, MIGRATIONS, url)
    async with started(database_url=url) as (client, _):
        docs = [(await upload(client, auth())).json() for _ in range(3)]
        page = (await client.get("/v1/documents", headers=auth(), params={"limit": 2})).json()
        rest = await client.get(
            "/v1/documents", headers=auth(), params={"cursor": page["next_cursor"]}
        )
        listed = [d["id"] for d in page["items"] + rest.json()["items"]]
        assert listed == [d["id"] for d in reversed(docs)]
        content = await client.get(
            f"/v1/documents/{docs[0]['id']}/content", headers=auth() | {"Range": "bytes=0-3"}
        )
        assert content.content == PDF[:4]
