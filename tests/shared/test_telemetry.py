"""One trace from an HTTP request through the outbox and the bus to a consumer; JSON logs
carry the trace id; /metrics counts requests per route."""

from __future__ import annotations

import json

import httpx
import structlog
from fastapi import APIRouter
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from socle.bus import ConsumerSpec
from socle.events import CloudEvent
from socle.outbox import record_event
from socle.service import SessionDep, create_service_app
from socle.telemetry import configure_tracing
from socle_dev.stub_http import StubServer
from socle_dev.testing import eventually, running
from tests.support.services import service_settings


async def test_request_event_and_consumer_share_one_trace(
    migrated_database, nats_server, issuer, tenant, capsys
):
    configure_tracing("test")
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    consumed: list[tuple[int, str]] = []
    router = APIRouter()

    @router.post("/v1/things")
    async def create_thing(session: SessionDep) -> dict[str, str]:
        async with session.begin():
            event = CloudEvent.new(service="thing", type="thing.created", tenant=tenant, data={})
            await record_event(session, event, aggregate="thing:1")
        structlog.get_logger("test").info("thing_created")
        return {"event_id": event.id}

    async def on_event(event: CloudEvent) -> None:
        consumed.append((trace.get_current_span().get_span_context().trace_id, event.id))

    settings = service_settings(
        migrated_database("procedures"),
        nats_server.url,
        issuer,
        outbox_poll_seconds=5,
    )
    app = create_service_app(
        name="tracetest",
        settings=settings,
        routers=[router],
        consumers=lambda rt: [
            ConsumerSpec(
                durable=f"trace-{tenant}", subjects=[f"socle.{tenant}.>"], handler=on_event
            )
        ],
    )
    async with running(app) as client:
        event_id = (await client.post("/v1/things")).json()["event_id"]

        async def arrived() -> bool:  # the commit wakes the relay: no waiting for its 5 s poll
            return bool(consumed)

        await eventually(arrived, "the event consumed", within=5)
        metrics = (await client.get("/metrics")).text
    server_spans = [s for s in spans.get_finished_spans() if s.name == "POST /v1/things"]
    assert server_spans, [s.name for s in spans.get_finished_spans()]
    request_trace = server_spans[0].context.trace_id
    assert consumed == [(request_trace, event_id)]
    sql_spans = [
        s
        for s in spans.get_finished_spans()
        if s.context.trace_id == request_trace and s.attributes and s.attributes.get("db.system")
    ]
    assert any("INSERT INTO outbox" in str(s.attributes.get("db.statement")) for s in sql_spans)
    log_lines = [
        json.loads(line)
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("{") and "thing_created" in line
    ]
    assert log_lines[0]["trace_id"] == format(request_trace, "032x")
    assert log_lines[0]["service"] == "tracetest"
    assert (
        'http_requests_total{method="POST",route="/v1/things",service="tracetest",status="200"} 1.0'
    ) in metrics


def test_logged_tracebacks_carry_no_local_variables(capsys):
    from socle.telemetry import configure_logging

    configure_logging("test")

    def authenticate(client_secret: str) -> None:
        raise PermissionError("client authentication failed")

    try:
        authenticate("s3cr3t-value-never-logged")
    except PermissionError:
        structlog.get_logger("test").exception("login_failed")
    err = capsys.readouterr().err
    assert "PermissionError" in err
    assert "authenticate" in err
    assert "s3cr3t-value-never-logged" not in err


def test_logged_database_errors_quote_neither_values_nor_parameters(capsys):
    """A database error's message goes on with the row it refused (PostgreSQL's DETAIL) and
    the statement's parameters: a logged traceback keeps the first line only, and engines
    hide the parameters."""
    from sqlalchemy.exc import IntegrityError

    from socle.db import create_engine
    from socle.telemetry import configure_logging

    configure_logging("test")
    orig = Exception(
        'duplicate key value violates unique constraint "uq_users_email"\n'
        "DETAIL:  Key (tenant, email)=(vevey, anna.muster@example.ch) already exists."
    )
    try:
        raise IntegrityError("INSERT INTO users ...", ("anna.muster@example.ch", "Anna"), orig)
    except IntegrityError:
        structlog.get_logger("test").exception("unhandled_error")
    err = capsys.readouterr().err
    assert "IntegrityError" in err and "uq_users_email" in err
    assert "anna.muster@example.ch" not in err and "Anna" not in err
    assert create_engine("sqlite+aiosqlite:///:memory:").sync_engine.hide_parameters


def test_a_logged_error_field_keeps_only_the_first_line_of_the_message(capsys):
    """Loops log a caught exception as ``error=repr(exc)``; the repr of a database error
    quotes the refused row after an escaped line break."""
    from sqlalchemy.exc import IntegrityError

    from socle.telemetry import configure_logging

    configure_logging("test")
    orig = Exception(
        'duplicate key value violates unique constraint "uq_users_email"\n'
        "DETAIL:  Key (tenant, email)=(vevey, anna.muster@example.ch) already exists."
    )
    exc = IntegrityError("INSERT INTO users ...", ("anna.muster@example.ch",), orig)
    structlog.get_logger("test").warning("relay_failed", error=repr(exc))
    structlog.get_logger("test").warning("pass_failed", error=exc)
    err = capsys.readouterr().err
    assert err.count("uq_users_email") == 2
    assert "anna.muster@example.ch" not in err


async def test_a_traceparent_the_caller_sets_reaches_the_server_unchanged():
    """A process with tracing configured (httpx instrumented) and no current trace: a
    request whose caller names the trace in its own ``traceparent`` keeps it, so the server
    joins that trace rather than a new one started by the instrumentation."""
    configure_tracing("test")
    given = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with StubServer(status=204) as server:
        async with httpx.AsyncClient(timeout=5) as client:
            await client.get(server.url, headers={"traceparent": given})
            await client.get(server.url)
    explicit, implicit = server.requests
    assert explicit.headers["traceparent"] == given
    assert implicit.headers.get("traceparent", given) != given


async def test_apps_built_again_on_an_engine_trace_each_statement_once(tmp_path):
    """A process building several apps (workers, a test run) traces each statement once: the
    SQL instrumentation is installed per engine, not stacked a layer per app."""
    from fastapi import FastAPI
    from sqlalchemy import text

    from socle.db import create_engine
    from socle.telemetry import instrument_app

    configure_tracing("test")
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    first = create_engine(f"sqlite+aiosqlite:///{tmp_path}/first.db")
    for _ in range(3):
        instrument_app(FastAPI(), first)
    second = create_engine(f"sqlite+aiosqlite:///{tmp_path}/second.db")
    instrument_app(FastAPI(), second)
    try:
        for engine, marker in ((first, "first_engine"), (second, "second_engine")):
            async with engine.connect() as connection:
                await connection.execute(text(f"SELECT 1 AS {marker}"))
    finally:
        await first.dispose()
        await second.dispose()
    for marker in ("first_engine", "second_engine"):
        traced = [
            s
            for s in spans.get_finished_spans()
            if s.attributes and marker in str(s.attributes.get("db.statement"))
        ]
        assert len(traced) == 1, marker
    # and each connection is opened once, not through a wrapper per app built
    assert len([s for s in spans.get_finished_spans() if s.name == "connect"]) <= 2
