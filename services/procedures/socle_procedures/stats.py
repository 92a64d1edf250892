"""Open statistics of a commune's procedure: per month of submission, the requests in each
state and the median days from submission to decision. Public and anonymised: a figure below
``THRESHOLD`` is suppressed (``None``), so no person can be singled out. A procedure whose
definition says ``open_statistics: false`` publishes nothing (404)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from socle_procedures.errors import ProcedureNotFound
from socle_procedures.models import ProcedureVersion, Request, RequestHistory

THRESHOLD = 5
STATES = ("submitted", "in_review", "information_requested", "approved", "rejected", "withdrawn")
DECIDED = ("approved", "rejected")


@dataclass
class Month:
    month: str
    counts: dict[str, int | None]
    decided: int | None
    median_days_to_decision: float | None


def _shown(n: int) -> int | None:
    return n if n >= THRESHOLD else None


async def _published(session: AsyncSession, tenant: str, slug: str) -> ProcedureVersion:
    query = (
        select(ProcedureVersion)
        .where(
            ProcedureVersion.tenant == tenant,
            ProcedureVersion.slug == slug,
            ProcedureVersion.status.in_(("published", "superseded", "retired")),
        )
        .order_by(ProcedureVersion.version.desc())
        .limit(1)
    )
    version = (await session.execute(query)).scalar_one_or_none()
    if version is None or version.document.get("open_statistics", True) is False:
        raise ProcedureNotFound(f"No open statistics for {slug!r} in {tenant!r}.")
    return version


async def figures(session: AsyncSession, tenant: str, slug: str) -> list[Month]:
    await _published(session, tenant, slug)
    decided_at = (
        select(RequestHistory.request_id, func.min(RequestHistory.at).label("at"))
        .where(RequestHistory.tenant == tenant, RequestHistory.to_state.in_(DECIDED))
        .group_by(RequestHistory.request_id)
        .subquery()
    )
    query = (
        select(Request.submitted_at, Request.state, decided_at.c.at)
        .outerjoin(decided_at, decided_at.c.request_id == Request.id)
        .where(
            Request.tenant == tenant,
            Request.procedure == slug,
            Request.submitted_at.is_not(None),
        )
    )
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATES, 0))
    days: dict[str, list[float]] = defaultdict(list)
    for submitted_at, state, decision in (await session.execute(query)).tuples():
        month = submitted_at.strftime("%Y-%m")
        if state in STATES:
            counts[month][state] += 1
        if decision is not None and state in DECIDED:
            days[month].append(_days(submitted_at, decision))
    return [
        Month(
            month=month,
            counts={s: _shown(n) for s, n in counts[month].items()},
            decided=_shown(len(days[month])),
            median_days_to_decision=(
                round(median(days[month]), 1) if len(days[month]) >= THRESHOLD else None
            ),
        )
        for month in sorted(counts)
    ]


def _days(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 86400


def as_json(tenant: str, slug: str, months: list[Month]) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "procedure": slug,
        "suppressed_below": THRESHOLD,
        "months": [
            {
                "month": m.month,
                "requests": m.counts,
                "decided": m.decided,
                "median_days_to_decision": m.median_days_to_decision,
            }
            for m in months
        ],
    }


def as_csv(months: list[Month]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["month", *STATES, "decided", "median_days_to_decision"])
    for m in months:
        writer.writerow(
            [
                m.month,
                *("" if m.counts[s] is None else m.counts[s] for s in STATES),
                "" if m.decided is None else m.decided,
                "" if m.median_days_to_decision is None else m.median_days_to_decision,
            ]
        )
    return out.getvalue()
