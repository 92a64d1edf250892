"""Every error FastAPI can raise answers RFC 9457 problem+json."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, Field

from socle.problems import PROBLEM_JSON, Conflict, install_problem_handlers


class Fee(BaseModel):
    amount: int = Field(gt=0)
    currency: str = Field(pattern="^(CHF|EUR)$")


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/fees")
    async def create(fee: Fee) -> Fee:
        return fee

    @app.get("/conflict")
    async def conflict() -> None:
        raise Conflict("The payment is already refunded.", code="already-refunded")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    return app


async def call(method: str, path: str, **kwargs) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, path, **kwargs)


async def test_404_is_problem_json():
    response = await call("GET", "/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"].endswith("/not-found")
    assert body["instance"] == "/nowhere"
    assert "/nowhere" in body["detail"]


async def test_405_names_the_method():
    response = await call("DELETE", "/fees")
    assert response.status_code == 405
    assert response.json()["detail"] == "Method DELETE is not allowed on /fees."


async def test_422_lists_each_bad_field():
    response = await call("POST", "/fees", json={"amount": -5, "currency": "USD"})
    assert response.status_code == 422
    body = response.json()
    assert {e["field"] for e in body["errors"]} == {"body.amount", "body.currency"}
    assert "body.amount" in body["detail"]


async def test_malformed_json_is_422_not_500():
    response = await call(
        "POST", "/fees", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON


async def test_domain_error_carries_its_code():
    response = await call("GET", "/conflict")
    assert response.status_code == 409
    assert response.json()["type"].endswith("/already-refunded")
    assert response.json()["detail"] == "The payment is already refunded."


async def test_500_hides_internals():
    response = await call("GET", "/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text


async def _answer_with_database(url: str, query: str = "SELECT 1", **engine_args) -> httpx.Response:
    from sqlalchemy import text

    from socle.db import create_engine

    engine = create_engine(url, **engine_args)
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/v1/things")
    async def things() -> dict[str, int]:
        async with engine.connect() as conn:
            return {"n": (await conn.execute(text(query))).scalar_one()}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/v1/things")
    finally:
        await engine.dispose()


async def test_a_database_that_is_down_answers_503_with_retry_after():
    from socle_dev.localinfra import free_port

    url = f"postgresql+asyncpg://socle:x@127.0.0.1:{free_port()}/socle"
    response = await _answer_with_database(url)
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["retry-after"] == "2"
    assert response.json()["type"].endswith("/database-unavailable")


async def test_a_bug_in_sql_stays_a_500(tmp_path):
    response = await _answer_with_database(
        f"sqlite+aiosqlite:///{tmp_path}/x.db", "SELECT n FROM no_such_table"
    )
    assert response.status_code == 500
