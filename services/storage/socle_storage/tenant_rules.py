"""Tenant rules: the size limit, allowed content types and retention the commune sets; the
defaults from the settings when it has set none. A changed retention applies to the
documents already stored too: each one's ``retention_until`` becomes its upload time plus the
new retention of its kind (a shorter one can make it due for the next purge at once).

The rules' transaction marks the change (``reapply_pending_since``); the documents are then
given it in batches and the mark is cleared. A crash in between leaves the mark, and the
purge finishes the work before it purges anything (:func:`finish_pending_reapplies`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from socle.auth import Principal
from socle.db import for_update, utcnow
from socle.problems import Unprocessable
from socle_storage.access import acts_for_tenant
from socle_storage.context import Storage
from socle_storage.errors import NotAllowed
from socle_storage.models import Document, TenantRules
from socle_storage.schemas import MEDIA_TYPE, RulesIn
from socle_storage.settings import StorageSettings

log = structlog.get_logger("socle_storage.tenant_rules")

BATCH = 500


@dataclass(frozen=True)
class Rules:
    max_size_bytes: int
    allowed_content_types: list[str]
    default_retention_days: int
    retention_days: dict[str, int]
    custom: bool

    def retention_for(self, kind: str) -> int:
        return int(self.retention_days.get(kind, self.default_retention_days))


async def load_rules(session: AsyncSession, tenant: str, settings: StorageSettings) -> Rules:
    row = await session.get(TenantRules, tenant)
    if row is None:
        return Rules(
            max_size_bytes=settings.default_max_size_bytes,
            allowed_content_types=settings.allowed_types,
            default_retention_days=settings.default_retention_days,
            retention_days={},
            custom=False,
        )
    return Rules(
        max_size_bytes=row.max_size_bytes,
        # rows written before types were checked may hold a malformed one: never matches
        allowed_content_types=[
            t for t in row.allowed_content_types if isinstance(t, str) and MEDIA_TYPE.match(t)
        ],
        default_retention_days=row.default_retention_days,
        retention_days={str(k): int(v) for k, v in row.retention_days.items()},
        custom=True,
    )


async def get_rules(storage: Storage, principal: Principal) -> Rules:
    async with storage.sessions() as session, session.begin():
        return await load_rules(session, principal.tenant, storage.settings)


_KIND = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


async def set_rules(storage: Storage, principal: Principal, body: RulesIn) -> Rules:
    if not acts_for_tenant(principal):
        raise NotAllowed("Only the commune's admins or its services may change the rules.")
    bad = [k for k, v in body.retention_days.items() if not _KIND.match(k) or v < 0]
    if bad:
        raise Unprocessable(
            f"retention_days has invalid kinds or negative days: {', '.join(bad)}.",
            code="invalid-rules",
        )
    types = sorted(set(body.allowed_content_types))  # validated and normalised by RulesIn
    async with storage.sessions() as session, session.begin():
        before = await load_rules(session, principal.tenant, storage.settings)
        row = await session.get(TenantRules, principal.tenant)
        if row is None:
            row = TenantRules(tenant=principal.tenant)
            session.add(row)
        row.max_size_bytes = body.max_size_bytes
        row.allowed_content_types = types
        row.default_retention_days = body.default_retention_days
        row.retention_days = dict(body.retention_days)
        row.updated_at = utcnow()
        await session.flush()
        rules = await load_rules(session, principal.tenant, storage.settings)
        if (before.default_retention_days, before.retention_days) != (
            rules.default_retention_days,
            rules.retention_days,
        ):
            row.reapply_pending_since = row.updated_at  # committed with the rules
        pending = row.reapply_pending_since is not None
    if pending:
        await finish_reapply(storage, principal.tenant)
    return rules


async def finish_reapply(storage: Storage, tenant: str) -> int:
    """Give every stored document of ``tenant`` its current retention if a change of it is
    marked as not yet applied, then clear the mark (unless the retention changed again
    meanwhile: that change's own pass clears it); how many documents changed."""
    async with storage.sessions() as session, session.begin():
        since = await session.scalar(
            select(TenantRules.reapply_pending_since).where(TenantRules.tenant == tenant)
        )
    if since is None:
        return 0
    changed = await reapply_retention(storage, tenant)
    async with storage.sessions() as session, session.begin():
        await session.execute(
            update(TenantRules)
            .where(TenantRules.tenant == tenant, TenantRules.reapply_pending_since == since)
            .values(reapply_pending_since=None)
        )
    return changed


async def finish_pending_reapplies(storage: Storage) -> int:
    """Finish every changed retention a crash left half applied (the purge's first step, so
    no document is purged by an end date its commune has changed); how many documents
    changed."""
    async with storage.sessions() as session, session.begin():
        tenants = list(
            (
                await session.execute(
                    select(TenantRules.tenant)
                    .where(TenantRules.reapply_pending_since.is_not(None))
                    .order_by(TenantRules.tenant)
                )
            ).scalars()
        )
    changed = 0
    for tenant in tenants:
        log.info("retention_reapply_resumed", tenant=tenant)
        changed += await finish_reapply(storage, tenant)
    return changed


async def reapply_retention(storage: Storage, tenant: str) -> int:
    """Give every stored document of ``tenant`` the retention its rules set for its kind, in
    batches; how many changed. Each batch reads the rules afresh, so a pass overlapping a
    newer change writes no stale end date after it. A document of an erased owner that is
    kept only because its kind had a retention of its own is released (due now) when its kind
    no longer has one."""
    changed = 0
    after = ""
    while True:
        done, count, after = await _reapply_batch(storage, tenant, after)
        changed += count
        if done:
            break
    if changed:
        log.info("retention_reapplied", tenant=tenant, documents=changed)
    return changed


async def _reapply_batch(storage: Storage, tenant: str, after: str) -> tuple[bool, int, str]:
    """One batch of :func:`reapply_retention`, from the document after ``after``: whether it
    was the last, how many changed, the last document seen."""
    changed = 0
    async with storage.sessions() as session, session.begin():
        rules = await load_rules(session, tenant, storage.settings)
        docs = list(
            (
                await session.execute(
                    for_update(  # a document being changed is waited for
                        select(Document)
                        .where(
                            Document.tenant == tenant,
                            Document.status.in_(("active", "quarantined")),
                            Document.id > after,
                        )
                        .order_by(Document.id)
                        .limit(BATCH)
                    )
                )
            ).scalars()
        )
        now = utcnow()
        for doc in docs:
            until = doc.created_at + timedelta(days=rules.retention_for(doc.kind))
            if doc.erasure_requested_at is not None and doc.kind not in rules.retention_days:
                until = min(until, now)  # nothing but a kind's retention kept it
            if doc.retention_until != until:
                doc.retention_until = until
                doc.updated_at = now
                changed += 1
    return len(docs) < BATCH, changed, docs[-1].id if docs else after
