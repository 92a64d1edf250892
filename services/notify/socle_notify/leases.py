"""One leased queue, for notifications and webhook deliveries alike.

A row waits in a *waiting* status until its ``next_attempt_at``. A worker claims due rows: they
become ``sending`` with ``lease_until`` and one more attempt, committed before anything is sent.
While the send is in progress the worker renews the lease; it then settles the row (the caller's
domain step, on the row :meth:`LeasedQueue.held` gives back) or gives it back untried. A worker
that dies leaves its lease to expire: the row is due again, for any worker. On PostgreSQL,
workers of several replicas skip each other's rows (``FOR UPDATE SKIP LOCKED``).

A lease is known by its expiry: a worker whose lease expired and was taken by another finds its
``lease_until`` replaced, so it can neither renew nor settle what is no longer its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import for_update, utcnow

SENDING = "sending"


@dataclass(frozen=True)
class Lease:
    """A worker's hold on one row until ``lease_until``."""

    id: str
    lease_until: datetime


Row = TypeVar("Row")


class LeasedQueue(Generic[Row]):
    """The rows of ``model`` (columns ``id``, ``status``, ``attempts``, ``next_attempt_at``,
    ``lease_until``) as a queue under leases of ``lease_seconds``.

    A row is waiting as ``fresh`` before its first attempt and as ``retry`` after one; given
    back untried, it returns to the one its attempts say. ``touched``: a column set to the
    time of each claim (a row's ``updated_at``)."""

    def __init__(
        self,
        model: type[Row],
        *,
        lease_seconds: float,
        fresh: str,
        retry: str,
        touched: str | None = None,
    ) -> None:
        self.model = model
        self.lease_seconds = lease_seconds
        self.fresh = fresh
        self.retry = retry
        self.touched = touched
        self.waiting = tuple(dict.fromkeys((fresh, retry)))
        self._m: Any = model  # its columns, for building statements
        # Its table, for the updates: Core statements, without the ORM's search of the session
        # for the rows they change (none is loaded there), a large share of each update's cost.
        self._t: Any = cast(Any, model).__table__

    def due(self, now: datetime) -> ColumnElement[bool]:
        """Rows to attempt now: waiting ones whose time has come, and those whose worker's
        lease expired."""
        m = self._m
        return or_(
            and_(m.status.in_(self.waiting), m.next_attempt_at <= now),
            and_(m.status == SENDING, m.lease_until < now),
        )

    async def claim(self, session: AsyncSession, limit: int) -> list[Lease]:
        """Take up to ``limit`` due rows, oldest due first; commit right after, before sending."""
        m = self._m
        now = utcnow()
        lease_until = now + timedelta(seconds=self.lease_seconds)
        query = select(m.id).where(self.due(now)).order_by(m.next_attempt_at).limit(limit)
        ids: list[str] = list(
            (await session.execute(for_update(query, skip_locked=True))).scalars()
        )
        if not ids:
            return []
        t = self._t
        values: dict[str, Any] = {
            "status": SENDING,
            "lease_until": lease_until,
            "attempts": t.c.attempts + 1,
        }
        if self.touched:
            values[self.touched] = now
        await session.execute(update(t).where(t.c.id.in_(ids)).values(**values))
        return [Lease(i, lease_until) for i in ids]

    async def backlog(self, session: AsyncSession) -> int:
        """How many rows are due now (a worker would claim them)."""
        count = await session.scalar(
            select(func.count()).select_from(self.model).where(self.due(utcnow()))
        )
        return int(count or 0)

    async def rows(self, session: AsyncSession, leases: list[Lease]) -> dict[str, Row]:
        """The leased rows, as they are now, by id (read in the claim's transaction, so that
        a claim costs one transaction however many rows it takes, not one more per row)."""
        if not leases:
            return {}
        found = await session.execute(
            select(self.model).where(self._m.id.in_([lease.id for lease in leases]))
        )
        rows: dict[str, Row] = {}
        for row in found.scalars():
            rows[getattr(row, "id")] = row  # noqa: B009 (Row is any model with an id)
        return rows

    async def renew(self, session: AsyncSession, lease: Lease) -> Lease | None:
        """Extend a lease this worker still holds (a send in progress): the new lease, or None
        when it was lost."""
        lease_until = utcnow() + timedelta(seconds=self.lease_seconds)
        result = await session.execute(self._held(lease).values(lease_until=lease_until))
        renewed: int = result.rowcount  # type: ignore[attr-defined]
        return Lease(lease.id, lease_until) if renewed == 1 else None

    async def finish(self, session: AsyncSession, lease: Lease, **values: Any) -> bool:
        """Settle a row ``lease`` still holds with ``values`` (its lease ended), in one
        statement; False, and nothing changed, when the lease was lost to another worker."""
        result = await session.execute(self._held(lease).values(lease_until=None, **values))
        finished: int = result.rowcount  # type: ignore[attr-defined]
        return finished == 1

    def _held(self, lease: Lease) -> Any:
        """An update of the row, if ``lease`` still holds it."""
        t = self._t
        return update(t).where(
            t.c.id == lease.id, t.c.status == SENDING, t.c.lease_until == lease.lease_until
        )

    async def held(self, session: AsyncSession, lease: Lease) -> Row | None:
        """The row, locked, if ``lease`` still holds it (to settle it); None when the lease
        was lost to another worker."""
        m = self._m
        row: Any = (
            await session.execute(for_update(select(m).where(m.id == lease.id)))
        ).scalar_one_or_none()
        if row is None or row.status != SENDING or row.lease_until != lease.lease_until:
            return None
        held: Row = row
        return held

    async def give_back(self, session: AsyncSession, lease: Lease, seconds: float) -> None:
        """Return a claimed row untried (a rate limit reached): due again in ``seconds``,
        without the attempt its claim counted."""
        row: Any = await self.held(session, lease)
        if row is None:
            return
        row.attempts -= 1
        row.status = self.fresh if row.attempts == 0 else self.retry
        row.lease_until = None
        row.next_attempt_at = utcnow() + timedelta(seconds=seconds)
