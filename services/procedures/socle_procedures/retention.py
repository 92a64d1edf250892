"""Retention of requests: a closed request (approved, rejected, withdrawn) is anonymised
once its retention after submission has passed. The retention of a procedure's requests is,
first found: the commune's for that procedure (``requests:<procedure>``), the procedure's
own ``retention_days``, the commune's for all its requests (``requests``), then
``SOCLE_REQUEST_RETENTION_DAYS`` (0: kept until the person is erased). A request under
legal hold is left as it is. The sweep also
anonymises the requests of erased persons whose retention ended."""

from __future__ import annotations

import re
from datetime import datetime

import structlog
from fastapi import Request as HttpRequest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle import clock, retention
from socle.legal_hold import legal_hold_router, not_held
from socle.privacy import new_pseudonym
from socle_procedures import privacy
from socle_procedures.api.deps import Admin
from socle_procedures.models import ProcedureVersion, Request, legal_holds, retention_rules
from socle_procedures.settings import ProceduresSettings

log = structlog.get_logger("socle_procedures.retention")

CATEGORY = "requests"
CLOSED = ("approved", "rejected", "withdrawn")
BATCH = 200
_CATEGORY = re.compile(r"^requests(:[a-z0-9_-]{1,100})?$")


def days_for(
    rules: dict[str, int], procedure: str, document: dict[str, object], default: int
) -> int | None:
    """The retention of a procedure's requests, in days (none: kept until erased)."""
    own = document.get("retention_days")
    for days in (
        rules.get(f"{CATEGORY}:{procedure}"),
        own if isinstance(own, int) and own > 0 else None,
        rules.get(CATEGORY),
        default or None,
    ):
        if days is not None:
            return days
    return None


async def purge_once(
    sessions: async_sessionmaker[AsyncSession], settings: ProceduresSettings
) -> int:
    """Anonymise every closed request past its retention; how many."""
    done = 0
    since = func.coalesce(Request.submitted_at, Request.created_at)
    open_ones = (
        Request.state.in_(CLOSED),
        Request.owner.not_like("erased-%"),
        not_held(legal_holds, CATEGORY, Request.tenant, Request.id),
    )
    async with sessions() as session:
        groups = list(
            (
                await session.execute(
                    select(Request.tenant, Request.procedure, Request.version_id)
                    .where(*open_ones)
                    .distinct()
                )
            ).tuples()
        )
    for tenant, procedure, version_id in groups:
        async with sessions() as session:
            rules = await retention.rules(session, retention_rules, tenant)
            version = await session.get(ProcedureVersion, version_id)
        document = version.document if version is not None else {}
        before = retention.cutoff(
            days_for(rules, procedure, document, settings.request_retention_days)
        )
        if before is None:
            continue

        async def batch(
            session: AsyncSession,
            tenant: str = tenant,
            version_id: str = version_id,
            before: datetime = before,
        ) -> int:
            due = list(
                (
                    await session.execute(
                        select(Request)
                        .where(
                            *open_ones,
                            Request.tenant == tenant,
                            Request.version_id == version_id,
                            since < before,
                        )
                        .limit(BATCH)
                        .with_for_update(skip_locked=True)
                    )
                ).scalars()
            )
            now = clock.now()
            for row in due:
                await privacy.anonymise(session, row, new_pseudonym(), now)
            return len(due)

        done += await retention.in_batches(sessions, batch, BATCH)
    if done:
        log.info("requests_anonymised_by_retention", count=done)
    return done


def _defaults(request: HttpRequest) -> dict[str, int | None]:
    settings: ProceduresSettings = request.app.state.runtime.settings
    return {CATEGORY: settings.request_retention_days or None}


router = retention.retention_router(
    table=retention_rules,
    principal=Admin,
    known=lambda category: bool(_CATEGORY.match(category)),
    defaults=_defaults,
    tag="retention",
)


async def _exists(session: AsyncSession, tenant: str, record_id: str) -> bool:
    row = await session.get(Request, record_id)
    return row is not None and row.tenant == tenant


holds_router = legal_hold_router(table=legal_holds, principal=Admin, exists_for={CATEGORY: _exists})
