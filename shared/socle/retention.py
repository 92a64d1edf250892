"""Retention per tenant and data category: how many days a service keeps a category of a
commune's data (``notifications``, ``payments``, ``requests``, ``requests:<procedure>``)
before its purge deletes or anonymises it. A service keeps the rules in its own
``retention_rules`` table; its admins read and set them at ``GET``/``PUT /v1/retention``; a
category without a rule of the commune's falls back to the service's default (a setting).

Each service's purge runs in one function (``purge_once``) that works in batches; legal
hold, where a service has it, wins over retention."""

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Column, Integer, MetaData, String, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.db import UTCDateTime, utcnow
from socle.problems import PROBLEM_JSON, Unprocessable
from socle.service import SessionDep

MAX_DAYS = 36500

Category = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(:[a-z0-9_-]{1,100})?$")]
Days = Annotated[int, Field(ge=1, le=MAX_DAYS)]


def retention_table(metadata: MetaData) -> Table:
    """The ``retention_rules`` table in a service's metadata (its migration creates it with
    :func:`retention_columns`)."""
    return Table("retention_rules", metadata, *retention_columns())


def retention_columns() -> list[Column[Any]]:
    return [
        Column("tenant", String(63), primary_key=True),
        Column("category", String(128), primary_key=True),
        Column("days", Integer, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    ]


class RetentionPolicy(BaseModel):
    """A commune's retention, per category: the days its data is kept. Categories left out
    fall back to the service's default."""

    model_config = ConfigDict(extra="forbid")
    days: dict[Category, Days] = Field(
        description="Days kept, per category (`notifications`, `payments`, `requests`, "
        "`requests:<procedure>`, as the service names them)."
    )


class RetentionView(RetentionPolicy):
    defaults: dict[str, int | None] = Field(
        description="The service's default per category (null: kept until erased)."
    )


async def rules(session: AsyncSession, table: Table, tenant: str) -> dict[str, int]:
    rows = await session.execute(
        select(table.c.category, table.c.days).where(table.c.tenant == tenant)
    )
    return {str(category): int(days) for category, days in rows.tuples()}


async def replace_rules(
    session: AsyncSession, table: Table, tenant: str, days: Mapping[str, int]
) -> None:
    await session.execute(delete(table).where(table.c.tenant == tenant))
    now = utcnow()
    for category, value in days.items():
        await session.execute(
            insert(table).values(tenant=tenant, category=category, days=value, updated_at=now)
        )


async def in_batches(
    sessions: async_sessionmaker[AsyncSession],
    batch: Callable[[AsyncSession], Awaitable[int]],
    size: int,
) -> int:
    """A purge's loop: ``batch`` (which handles at most ``size`` rows and says how many) runs
    again, each time in a transaction of its own, until it handles fewer than ``size``; how
    many rows in all."""
    done = 0
    while True:
        async with sessions() as session, session.begin():
            handled = await batch(session)
        done += handled
        if handled < size:
            return done


def cutoff(days: int | None, now: datetime | None = None) -> datetime | None:
    """The time before which data kept ``days`` is due; none when it is kept without end."""
    if days is None:
        return None
    return (now or utcnow()) - timedelta(days=days)


def retention_router(
    *,
    table: Table,
    principal: Any,
    known: Callable[[str], bool],
    defaults: Callable[[Request], dict[str, int | None]],
    tag: str,
) -> APIRouter:
    """``GET``/``PUT /v1/retention`` of a service: ``principal`` is the dependency that
    authorises its admins (``Annotated[Principal, Depends(...)]``), ``known`` says which
    categories the service has, ``defaults`` its defaults."""
    router = APIRouter(prefix="/v1/retention", tags=[tag])
    errors: dict[int | str, dict[str, Any]] = {
        401: {"description": "No valid access token", "content": {PROBLEM_JSON: {}}},
        403: {"description": "Not an admin of the commune", "content": {PROBLEM_JSON: {}}},
        422: {"description": "An unknown category or a bad number", "content": {PROBLEM_JSON: {}}},
    }

    @router.get("", response_model=RetentionView, responses=errors)
    async def show(
        request: Request,
        caller: principal,
        session: SessionDep,
    ) -> RetentionView:
        """The commune's retention per category, and the service's defaults."""
        async with session.begin():
            days = await rules(session, table, caller.tenant)
        return RetentionView(days=days, defaults=defaults(request))

    @router.put("", response_model=RetentionView, responses=errors)
    async def set_rules(
        body: RetentionPolicy,
        request: Request,
        caller: principal,
        session: SessionDep,
    ) -> RetentionView:
        """Replace the commune's retention (categories left out use the default). The purge
        applies it from its next run."""
        unknown = sorted(c for c in body.days if not known(c))
        if unknown:
            raise Unprocessable(
                f"Unknown categories: {', '.join(unknown)}.",
                errors=[{"field": f"days.{c}", "message": "unknown category"} for c in unknown],
            )
        async with session.begin():
            await replace_rules(session, table, caller.tenant, body.days)
        return RetentionView(days=dict(body.days), defaults=defaults(request))

    return router
