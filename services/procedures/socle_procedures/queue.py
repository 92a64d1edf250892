"""The commune's work queue: submitted requests filtered, sorted and counted per state, and
the same list as CSV. Drafts stay the citizen's own business and are never listed."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from socle.auth import Principal
from socle_procedures.models import Request
from socle_procedures.review import require_staff

SORTS = {
    "submitted": Request.submitted_at,
    "updated": Request.updated_at,
    "reference": Request.reference,
    "state": Request.state,
    "procedure": Request.procedure,
}
PAGE_SIZE = 25
EXPORT_LIMIT = 10_000


@dataclass
class Filters:
    procedure: str | None = None
    state: str | None = None
    since: date | None = None
    until: date | None = None
    reference: str | None = None
    assigned_to: str | None = None
    sort: str = "submitted"
    descending: bool = True
    page: int = 1


@dataclass
class QueuePage:
    rows: list[Request]
    total: int
    page: int
    pages: int
    counts: dict[str, int]


def _day(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def _filtered(
    principal: Principal, f: Filters, *, with_state: bool = True
) -> Select[tuple[Request]]:
    query = select(Request).where(Request.tenant == principal.tenant, Request.state != "draft")
    if f.procedure:
        query = query.where(Request.procedure == f.procedure)
    if f.state and with_state:
        query = query.where(Request.state == f.state)
    if f.since:
        query = query.where(Request.submitted_at >= _day(f.since))
    if f.until:
        query = query.where(Request.submitted_at < _day(f.until + timedelta(days=1)))
    if f.reference:
        query = query.where(Request.reference.ilike(f"%{_escape(f.reference)}%", escape="\\"))
    if f.assigned_to == "-":
        query = query.where(Request.assigned_to.is_(None))
    elif f.assigned_to:
        query = query.where(Request.assigned_to == f.assigned_to)
    return query


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _ordered(query: Select[tuple[Request]], f: Filters) -> Select[tuple[Request]]:
    column = SORTS.get(f.sort, Request.submitted_at)
    first = column.desc() if f.descending else column.asc()
    tie = Request.id.desc() if f.descending else Request.id.asc()
    return query.order_by(first, tie)


async def page(session: AsyncSession, principal: Principal, f: Filters) -> QueuePage:
    """One page of the filtered queue, its total, and the count per state (all filters but
    the state's, so the counts tell where the work is)."""
    require_staff(principal)
    base = _filtered(principal, f)
    total = (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    pages = max(1, -(-total // PAGE_SIZE))
    number = min(max(1, f.page), pages)
    query = _ordered(base, f).limit(PAGE_SIZE).offset((number - 1) * PAGE_SIZE)
    rows = list((await session.execute(query)).scalars())
    by_state = _filtered(principal, f, with_state=False).subquery()
    counted = await session.execute(
        select(by_state.c.state, func.count()).group_by(by_state.c.state)
    )
    counts = {state: n for state, n in counted.tuples()}
    return QueuePage(rows=rows, total=total, page=number, pages=pages, counts=counts)


async def export_csv(session: AsyncSession, principal: Principal, f: Filters) -> str:
    """The filtered list as CSV (no answers: those stay on each request's page)."""
    require_staff(principal)
    query = _ordered(_filtered(principal, f), f).limit(EXPORT_LIMIT)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "reference",
            "procedure",
            "version",
            "state",
            "assigned_to",
            "submitted_at",
            "updated_at",
            "fee_amount",
            "currency",
            "payment_status",
        ]
    )
    for r in (await session.execute(query)).scalars():
        writer.writerow(
            [
                _cell(r.reference or ""),
                r.procedure,
                r.version,
                r.state,
                _cell(r.assigned_to or ""),
                r.submitted_at.isoformat() if r.submitted_at else "",
                r.updated_at.isoformat(),
                r.fee_amount,
                r.fee_currency,
                r.payment_status or "",
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """No spreadsheet formula injection from a value someone else chose."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
