"""Legal hold of single records (a payment, a notification, a request) that a court case or
an inquiry needs: while held, neither the retention purge nor a person's erasure touches the
record (an erasure marks it and is applied once the hold is lifted). Each service
keeps its holds in its own ``legal_holds`` table and offers ``/v1/legal-holds`` to its admins.
(Storage has its own legal hold on documents.)"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import (
    Column,
    ColumnElement,
    MetaData,
    String,
    Table,
    delete,
    exists,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import SQLCoreOperations

from socle.db import UTCDateTime, utcnow
from socle.eventtypes.privacy import Kept
from socle.problems import PROBLEM_JSON, NotFound
from socle.service import SessionDep

RecordId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
#: Whether a record of the caller's tenant exists: ``(session, tenant, record_id)``.
Exists = Callable[[AsyncSession, str, str], Awaitable[bool]]


def kept_under_hold(category: str, count: int, detail: str) -> list[Kept]:
    """What an erasure's outcome says of the ``count`` records of ``category`` it left under
    legal hold (nothing when none)."""
    if not count:
        return []
    return [Kept(category=category, count=count, reason="legal_hold", detail=detail)]


def legal_hold_columns() -> list[Column[Any]]:
    return [
        Column("tenant", String(63), primary_key=True),
        Column("category", String(64), primary_key=True),
        Column("record_id", String(64), primary_key=True),
        Column("reason", String(500), nullable=False),
        Column("held_at", UTCDateTime, nullable=False),
    ]


def legal_hold_table(metadata: MetaData) -> Table:
    """The ``legal_holds`` table in a service's metadata (its migration creates it with
    :func:`legal_hold_columns`)."""
    return Table("legal_holds", metadata, *legal_hold_columns())


def not_held(
    table: Table, category: str, tenant: SQLCoreOperations[str], record: SQLCoreOperations[str]
) -> ColumnElement[bool]:
    """A condition for a purge's query: the record is under no legal hold."""
    return ~exists().where(
        table.c.tenant == tenant, table.c.category == category, table.c.record_id == record
    )


async def held_ids(
    session: AsyncSession, table: Table, category: str, tenant: str, record_ids: list[str]
) -> set[str]:
    """Which of ``record_ids`` (of ``category`` in ``tenant``) are under legal hold."""
    if not record_ids:
        return set()
    rows = await session.execute(
        select(table.c.record_id).where(
            table.c.tenant == tenant,
            table.c.category == category,
            table.c.record_id.in_(record_ids),
        )
    )
    return {str(r) for r in rows.scalars()}


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, description="Why, e.g. a case number.")


class Hold(HoldIn):
    category: str
    record_id: str
    held_at: datetime


def legal_hold_router(*, table: Table, principal: Any, exists_for: dict[str, Exists]) -> APIRouter:
    """``/v1/legal-holds`` of a service: ``principal`` authorises its admins,
    ``exists_for`` names the categories it holds and how to find a record of them."""
    router = APIRouter(prefix="/v1/legal-holds", tags=["legal hold"])
    errors: dict[int | str, dict[str, Any]] = {
        401: {"description": "No valid access token", "content": {PROBLEM_JSON: {}}},
        403: {"description": "Not an admin of the commune", "content": {PROBLEM_JSON: {}}},
        404: {"description": "No such record in this tenant", "content": {PROBLEM_JSON: {}}},
        422: {"description": "Invalid input", "content": {PROBLEM_JSON: {}}},
    }

    async def _known(session: AsyncSession, tenant: str, category: str, record_id: str) -> None:
        found = exists_for.get(category)
        if found is None or not await found(session, tenant, record_id):
            raise NotFound(f"No {category} {record_id!r} in this tenant.", code="record-not-found")

    @router.get("", response_model=list[Hold], responses=errors)
    async def holds(caller: principal, session: SessionDep) -> list[Hold]:
        """The commune's legal holds."""
        async with session.begin():
            rows = await session.execute(
                select(table.c.category, table.c.record_id, table.c.reason, table.c.held_at)
                .where(table.c.tenant == caller.tenant)
                .order_by(table.c.held_at)
            )
            return [Hold.model_validate(dict(row._mapping)) for row in rows]

    @router.put("/{category}/{record_id}", response_model=Hold, responses=errors)
    async def hold(
        category: str, record_id: RecordId, body: HoldIn, caller: principal, session: SessionDep
    ) -> Hold:
        """Put a record under legal hold (again: the reason is replaced)."""
        async with session.begin():
            await _known(session, caller.tenant, category, record_id)
            key = (
                (table.c.tenant == caller.tenant)
                & (table.c.category == category)
                & (table.c.record_id == record_id)
            )
            await session.execute(delete(table).where(key))
            now = utcnow()
            await session.execute(
                insert(table).values(
                    tenant=caller.tenant,
                    category=category,
                    record_id=record_id,
                    reason=body.reason,
                    held_at=now,
                )
            )
        return Hold(category=category, record_id=record_id, reason=body.reason, held_at=now)

    @router.delete(
        "/{category}/{record_id}", status_code=204, response_class=Response, responses=errors
    )
    async def release(
        category: str, record_id: RecordId, caller: principal, session: SessionDep
    ) -> Response:
        """Lift the hold: the next purge applies the retention, and an erasure asked for
        meanwhile."""
        async with session.begin():
            await _known(session, caller.tenant, category, record_id)
            await session.execute(
                delete(table).where(
                    table.c.tenant == caller.tenant,
                    table.c.category == category,
                    table.c.record_id == record_id,
                )
            )
        return Response(status_code=204)

    return router
