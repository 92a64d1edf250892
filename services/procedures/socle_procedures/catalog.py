"""Use cases of procedure definitions: create a version, publish it, list, retire.

A published version never changes; publishing a new one supersedes it, and the requests
started on it keep it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from socle import clock
from socle.db import for_update
from socle.outbox import record_event
from socle_procedures.definitions.validation import problems
from socle_procedures.errors import (
    AlreadyPublished,
    InvalidDefinition,
    ProcedureNotFound,
    ProcedureRetired,
)
from socle_procedures.events import PUBLISHED, RETIRED, version_event
from socle_procedures.models import ProcedureVersion


def check(document: Any) -> None:
    """Raise :class:`InvalidDefinition` with the pointer of every problem."""
    found = problems(document)
    if found:
        raise InvalidDefinition(
            f"The definition has {len(found)} problem(s); each error names its JSON pointer.",
            errors=[p.as_error() for p in found],
        )


async def _versions(session: AsyncSession, tenant: str, slug: str) -> list[ProcedureVersion]:
    query = (
        select(ProcedureVersion)
        .where(ProcedureVersion.tenant == tenant, ProcedureVersion.slug == slug)
        .order_by(ProcedureVersion.version)
    )
    return list((await session.execute(query)).scalars())


async def create_version(
    session: AsyncSession, tenant: str, document: dict[str, Any]
) -> ProcedureVersion:
    """A new draft version of the procedure named by the document's slug."""
    check(document)
    slug = document["slug"]
    last = await session.scalar(
        select(func.max(ProcedureVersion.version)).where(
            ProcedureVersion.tenant == tenant, ProcedureVersion.slug == slug
        )
    )
    version = ProcedureVersion(
        id=uuid.uuid4().hex,
        tenant=tenant,
        slug=slug,
        version=(last or 0) + 1,
        status="draft",
        document=document,
        created_at=clock.now(),
    )
    session.add(version)
    await session.flush()
    return version


async def find_version(
    session: AsyncSession, tenant: str, slug: str, version: int, *, lock: bool = False
) -> ProcedureVersion:
    query = select(ProcedureVersion).where(
        ProcedureVersion.tenant == tenant,
        ProcedureVersion.slug == slug,
        ProcedureVersion.version == version,
    )
    if lock:
        query = for_update(query)
    found = (await session.execute(query)).scalar_one_or_none()
    if found is None:
        raise ProcedureNotFound(f"No version {version} of procedure {slug!r} in this tenant.")
    return found


async def publish(session: AsyncSession, tenant: str, slug: str, version: int) -> ProcedureVersion:
    """Publish a draft; the version published before it is superseded."""
    target = await find_version(session, tenant, slug, version, lock=True)
    if target.status != "draft":
        raise AlreadyPublished(
            f"Version {version} of {slug!r} is {target.status}; a published version never "
            "changes: create a new version instead."
        )
    now = clock.now()
    for other in await _versions(session, tenant, slug):
        if other.status == "published":
            other.status = "superseded"
    target.status = "published"
    target.published_at = now
    await record_event(session, version_event(target, PUBLISHED), aggregate=f"procedure:{slug}")
    return target


async def retire(session: AsyncSession, tenant: str, slug: str) -> ProcedureVersion:
    """No new request can start; requests already started go on."""
    versions = await _versions(session, tenant, slug)
    current = [v for v in versions if v.status == "published"]
    if not current:
        raise ProcedureNotFound(f"No published procedure {slug!r} in this tenant.")
    now = clock.now()
    for version in versions:
        if version.status in ("published", "superseded"):
            version.status = "retired"
            version.retired_at = now
    await record_event(session, version_event(current[0], RETIRED), aggregate=f"procedure:{slug}")
    return current[0]


async def current(session: AsyncSession, tenant: str, slug: str) -> ProcedureVersion:
    """The version a new request of ``slug`` starts on."""
    query = select(ProcedureVersion).where(
        ProcedureVersion.tenant == tenant,
        ProcedureVersion.slug == slug,
        ProcedureVersion.status.in_(("published", "retired")),
    )
    rows = list((await session.execute(query)).scalars())
    published = [v for v in rows if v.status == "published"]
    if published:
        return published[0]
    if rows:
        raise ProcedureRetired(f"The procedure {slug!r} is no longer offered.")
    raise ProcedureNotFound(f"No published procedure {slug!r} in this tenant.")


async def listing(
    session: AsyncSession, tenant: str, *, include_all: bool
) -> list[ProcedureVersion]:
    """Published procedures (every version when ``include_all``), by slug then version."""
    query = select(ProcedureVersion).where(ProcedureVersion.tenant == tenant)
    if not include_all:
        query = query.where(ProcedureVersion.status == "published")
    query = query.order_by(ProcedureVersion.slug, ProcedureVersion.version)
    return list((await session.execute(query)).scalars())


async def publish_document(
    session: AsyncSession, tenant: str, document: dict[str, Any]
) -> tuple[ProcedureVersion, bool]:
    """Publish ``document`` unless the published version already says exactly that
    (the operator's command, safe to run again); True when a version was published."""
    check(document)
    for version in await _versions(session, tenant, document["slug"]):
        if version.status == "published" and version.document == document:
            return version, False
    created = await create_version(session, tenant, document)
    return await publish(session, tenant, created.slug, created.version), True
