"""The shared catalogue between communes: a tenant (a commune, or a canton's tenant) shares
a published procedure; every tenant sees the catalogue and adopts a shared procedure as its
own draft (its own texts, fee and notifications to adjust before publishing), linked to the
source version. When the source publishes a new version, adopters see it and can take it:
the new steps arrive as a new draft that keeps the adopter's own texts, fee and
notifications."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from socle import clock
from socle.auth import Principal
from socle_procedures import catalog
from socle_procedures.errors import AlreadyPublished, ProcedureNotFound
from socle_procedures.models import Adoption, ProcedureVersion, SharedProcedure

#: What stays the adopter's own when a new source version is taken.
OWN_KEYS = (
    "title",
    "summary",
    "confirmation",
    "decision",
    "fee",
    "notifications",
    "retention_days",
    "open_statistics",
)


@dataclass
class Entry:
    source: ProcedureVersion
    adopted_as: str | None
    adopted_version: int | None

    @property
    def update_available(self) -> bool:
        return self.adopted_version is not None and self.source.version > self.adopted_version


async def share(session: AsyncSession, principal: Principal, slug: str) -> ProcedureVersion:
    """Offer the tenant's published procedure to the other tenants."""
    version = await catalog.current(session, principal.tenant, slug)
    if await session.get(SharedProcedure, (principal.tenant, slug)) is None:
        session.add(SharedProcedure(tenant=principal.tenant, slug=slug, shared_at=clock.now()))
    return version


async def _source(session: AsyncSession, tenant: str, slug: str) -> ProcedureVersion:
    if await session.get(SharedProcedure, (tenant, slug)) is None:
        raise ProcedureNotFound(f"No shared procedure {slug!r} of {tenant!r}.")
    return await catalog.current(session, tenant, slug)


async def entries(session: AsyncSession, principal: Principal) -> list[Entry]:
    """Every shared procedure (its current version), and what the caller adopted of it."""
    shared = list((await session.execute(select(SharedProcedure))).scalars())
    adopted = {
        (a.source_tenant, a.source_slug): a
        for a in (
            await session.execute(select(Adoption).where(Adoption.tenant == principal.tenant))
        ).scalars()
    }
    out = []
    for s in sorted(shared, key=lambda s: (s.tenant, s.slug)):
        rows = await catalog.listing(session, s.tenant, include_all=False)
        current = next((v for v in rows if v.slug == s.slug), None)
        if current is None:
            continue  # retired since: no longer offered
        mine = adopted.get((s.tenant, s.slug))
        out.append(
            Entry(
                source=current,
                adopted_as=mine.slug if mine else None,
                adopted_version=mine.source_version if mine else None,
            )
        )
    return out


async def adopt(
    session: AsyncSession,
    principal: Principal,
    source_tenant: str,
    source_slug: str,
    *,
    as_slug: str | None = None,
) -> ProcedureVersion:
    """A draft of the shared procedure in the caller's tenant (first adoption), or of its
    new source version keeping the caller's own texts, fee and notifications."""
    source = await _source(session, source_tenant, source_slug)
    existing = (
        await session.execute(
            select(Adoption).where(
                Adoption.tenant == principal.tenant,
                Adoption.source_tenant == source_tenant,
                Adoption.source_slug == source_slug,
            )
        )
    ).scalar_one_or_none()
    slug = existing.slug if existing else (as_slug or source_slug)
    document: dict[str, Any] = copy.deepcopy(source.document)
    document["slug"] = slug
    own = await catalog.listing(session, principal.tenant, include_all=True)
    mine = [v for v in own if v.slug == slug]
    if mine and existing is None:
        raise AlreadyPublished(
            f"This commune already has a procedure {slug!r}; adopt it under another slug."
        )
    if mine:
        latest = max(mine, key=lambda v: v.version).document
        for key in OWN_KEYS:
            if key in latest:
                document[key] = copy.deepcopy(latest[key])
            else:
                document.pop(key, None)
    draft = await catalog.create_version(session, principal.tenant, document)
    if existing is None:
        session.add(
            Adoption(
                tenant=principal.tenant,
                slug=slug,
                source_tenant=source_tenant,
                source_slug=source_slug,
                source_version=source.version,
                adopted_at=clock.now(),
            )
        )
    else:
        existing.source_version = source.version
        existing.adopted_at = clock.now()
    return draft
