"""What every service application has: database, bus, outbox relay, token verifier,
problem+json errors, health, readiness, metrics and tracing. ``create_service_app`` wires it,
with the service's typed context (built at start-up, reached by routers through
``context_dependency``) and its periodic background loops."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from socle.apidocs import install_api_docs
from socle.auth import JWKSCache, TokenVerifier
from socle.bus import Bus, ConsumerSpec
from socle.config import ServiceSettings
from socle.db import create_engine, create_sessionmaker
from socle.migrations import schema_check_for
from socle.openapi import complete as complete_openapi
from socle.outages import Outages
from socle.outbox import PENDING_FLAG, OutboxRelay
from socle.overload import InFlightLimit
from socle.periodic import Periodic
from socle.problems import PROBLEM_JSON, install_problem_handlers
from socle.pruning import BACKLOG_LOOP, pruner_for
from socle.revocation import REVOCATION_SUBJECT, DenyList
from socle.telemetry import (
    Metrics,
    configure_logging,
    configure_tracing,
    flush_tracing,
    instrument_app,
    log_startup,
)

ReadinessCheck = Callable[[], Awaitable[None]]
C = TypeVar("C")


@dataclass
class Runtime(Generic[C]):
    """The live resources of one running service, built in its lifespan, and its typed
    context (``context``, what its routers and use cases need: built by the ``context``
    factory given to ``create_service_app``)."""

    settings: ServiceSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: Bus
    relay: OutboxRelay
    verifier: TokenVerifier
    """Checks access tokens; the context factory may replace it (identity trusts its own keys)."""
    deny: DenyList
    """Access tokens revoked at identity, followed from the bus."""
    metrics: Metrics
    """The service's Prometheus metrics (background loops report their backlog there)."""
    periodic: dict[str, Periodic] = field(default_factory=dict)
    """The running background loops by name (a test may ``wake()`` one or run a turn)."""
    context: C = field(init=False)
    """The service's own objects; set once the context factory returned."""


Hook = Callable[[Runtime[C]], Awaitable[None]]
ContextFactory = Callable[[Runtime[C]], Awaitable[C]]
ConsumersFactory = Callable[[Runtime[C]], Sequence[ConsumerSpec]]
PeriodicFactory = Callable[[Runtime[C]], Sequence[Periodic]]


def _sessionmaker_waking(
    engine: AsyncEngine, relay: Callable[[], OutboxRelay | None]
) -> async_sessionmaker[AsyncSession]:
    """Sessions whose commit wakes the outbox relay when they recorded an event."""

    class ServiceSession(Session):
        pass

    @event.listens_for(ServiceSession, "after_commit")
    def _wake(session: Session) -> None:
        if session.info.pop(PENDING_FLAG, False):
            target = relay()
            if target is not None:
                target.wake()

    return create_sessionmaker(engine, sync_session_class=ServiceSession)


def runtime_of(request: HTTPConnection) -> Runtime[Any]:
    runtime: Runtime[Any] = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime[Any]:
    """A dependency (async: FastAPI runs a plain ``def`` dependency in a worker thread)."""
    return runtime_of(request)


def context_of(request: HTTPConnection, kind: type[C]) -> C:
    """The service's context, as the type its factory builds (pages and helpers that hold a
    request); routers take it as a dependency (``context_dependency``)."""
    context = runtime_of(request).context
    if not isinstance(context, kind):
        raise TypeError(f"this service's context is a {type(context).__name__}, not {kind}")
    return context


def context_dependency(kind: type[C]) -> Callable[[Request], Awaitable[C]]:
    """The dependency giving the service's context, for one alias per service:
    ``ContextDep = Annotated[PaymentContext, Depends(context_dependency(PaymentContext))]``."""

    async def get_context(request: Request) -> C:
        return context_of(request, kind)

    return get_context


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with runtime_of(request).sessions() as session:
        yield session


RuntimeDep = Annotated[Runtime[Any], Depends(get_runtime)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]


def create_service_app(
    *,
    name: str,
    settings: ServiceSettings,
    routers: Sequence[APIRouter],
    version: str = "0.1.0",
    description: str = "",
    context: ContextFactory[C] | None = None,
    consumers: ConsumersFactory[C] | None = None,
    periodic: PeriodicFactory[C] | None = None,
    readiness: dict[str, Callable[[Runtime[C]], Awaitable[None]]] | None = None,
    on_shutdown: Sequence[Hook[C]] = (),
) -> FastAPI:
    """Build a Socle service application; nothing connects until its lifespan starts.

    At start-up: the database, the bus and the relay, then ``context(runtime)`` (the
    service's typed context, which may replace ``runtime.verifier``), the consumers and the
    ``periodic`` loops. At shutdown: the loops, then ``on_shutdown``, then the relay and bus.
    """
    configure_logging(name, settings.log_level)
    configure_tracing(name)
    engine = create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
    )
    holder: dict[str, OutboxRelay] = {}
    sessions = _sessionmaker_waking(engine, lambda: holder.get("relay"))
    audience = settings.audience or f"socle-{name}"

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log_startup(name, version, settings)
        bus = Bus(
            url=settings.nats_url,
            stream=settings.stream_name,
            name=f"socle-{name}",
            limits=settings.stream_limits,
        )
        deny = DenyList()
        await bus.start()
        relay = OutboxRelay(sessions, bus, poll_seconds=settings.outbox_poll_seconds)
        holder["relay"] = relay
        pruner = pruner_for(settings, sessions)
        metrics.add_backlog_probe(BACKLOG_LOOP, pruner.backlog)
        runtime: Runtime[C] = Runtime(
            settings=settings,
            engine=engine,
            sessions=sessions,
            bus=bus,
            relay=relay,
            verifier=TokenVerifier(
                issuer=settings.issuer,
                audience=audience,
                jwks=JWKSCache(settings.resolved_jwks_url),
                deny=deny,
            ),
            deny=deny,
            metrics=metrics,
        )
        app.state.runtime = runtime
        if context is not None:
            runtime.context = await context(runtime)
        app.state.verifier = runtime.verifier
        relay.start()
        pruner.start()
        bus.start_follower(
            REVOCATION_SUBJECT, deny.on_event, since_seconds=settings.revocation_lookback_seconds
        )
        for spec in consumers(runtime) if consumers else ():
            bus.start_consumer(spec)
        for loop in periodic(runtime) if periodic else ():
            runtime.periodic[loop.name] = loop
            loop.start()
        try:
            yield
        finally:
            for loop in runtime.periodic.values():
                await loop.stop()
            for hook in on_shutdown:
                await hook(runtime)
            await pruner.stop()
            await relay.stop()
            await bus.close()
            await engine.dispose()
            flush_tracing()  # the spans of the last requests leave before the process ends

    app = FastAPI(
        title=f"Socle {name}",
        version=version,
        description=description,
        lifespan=lifespan,
        # OpenTelemetry's FastAPI instrumentation (instrument_app) traces requests; FastAPI's
        # own would trace each one a second time, with spans for every dependency.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        docs_url=None,  # install_api_docs: Swagger UI and ReDoc from local files
        redoc_url=None,
    )
    install_api_docs(app)
    install_problem_handlers(app)
    metrics = Metrics(name)
    outages: Outages = app.state.outages
    outages.on_failure = metrics.count_dependency_failure
    metrics.install(app, on_success=outages.answered)
    instrument_app(app, engine)
    # Outermost (added last): a request refused for overload costs no tracing or measuring,
    # so refusing a flood leaves the event loop to the requests admitted.
    app.add_middleware(
        InFlightLimit, limit=settings.requests_in_flight_limit(), on_refused=metrics.count_refused
    )

    checks = dict(readiness or {})
    schema = schema_check_for(name)
    if schema is not None:  # unready while the database is behind the code's migrations
        checks["schema"] = lambda runtime: schema(runtime.engine)

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": name}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: database, bus and stores",
        responses={503: {"description": "A dependency is down", "content": {PROBLEM_JSON: {}}}},
    )
    async def readyz(runtime: RuntimeDep) -> JSONResponse:
        status: dict[str, str] = {}
        try:
            async with runtime.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            status["database"] = "ok"
            outages.answered("database")
        except Exception as exc:
            status["database"] = f"down: {exc.__class__.__name__}"
        # The bus is reported, never a reason to leave rotation: events wait in the outbox.
        bus = "ok" if runtime.bus.connected else "down: not connected to NATS"
        for check_name, check in checks.items():
            try:
                await check(runtime)
                status[check_name] = "ok"
            except Exception as exc:
                status[check_name] = f"down: {exc.__class__.__name__}"
        down = [k for k, v in status.items() if v != "ok"]
        if down:
            return JSONResponse(
                {
                    "type": "https://socle.swiss/problems/not-ready",
                    "title": "Not ready",
                    "status": 503,
                    "detail": f"Not ready: {', '.join(down)} unavailable.",
                    "instance": "/readyz",
                    "checks": {**status, "bus": bus},
                },
                status_code=503,
                media_type=PROBLEM_JSON,
            )
        return JSONResponse({"status": "ready", "checks": {**status, "bus": bus}})

    for router in routers:
        app.include_router(router)
    complete_openapi(app)
    return app
