"""Offboarding a tenant (a commune that leaves): find, export and delete every row of the
tenant in a service's database.

A table holds the tenant's rows when it has a ``tenant`` column (or is identity's
``tenants``, by its ``slug``), or a foreign key to a table that holds them
(``template_contents`` through ``templates``). Tables of neither kind (signing keys, the
outbox) are the installation's. Rows are deleted children first, in one transaction; a
second run finds nothing (idempotent). Each service adds what lives outside its database
(storage: the documents' bytes in S3) with a hook. Nothing is deleted while one of the
tenant's records is on legal hold.

Every service's command line has ``offboard-tenant SLUG [--confirm] [--export-dir DIR]``; the
``socle tenants offboard`` command runs it for every service."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, MetaData, Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from socle.config import ServiceSettings
from socle.db import create_engine


@dataclass
class Report:
    """What an offboarding found (dry run) or removed, per table and outside the database."""

    service: str
    tenant: str
    applied: bool
    tables: dict[str, int] = field(default_factory=dict)
    outside: dict[str, int] = field(default_factory=dict)
    held: int = 0
    """Records under legal hold: while there are any, nothing is deleted."""
    exported_to: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "tenant": self.tenant,
            "applied": self.applied,
            "tables": self.tables,
            "outside": self.outside,
            "total": sum(self.tables.values()) + sum(self.outside.values()),
            "held": self.held,
            "exported_to": self.exported_to,
        }


class OffboardRefused(Exception):
    """What stops an offboarding before anything is deleted (a legal hold), in one line."""


@dataclass
class Outside:
    """What a service's hook found (or removed) outside its database's tenant rows."""

    counts: dict[str, int]
    held: int = 0
    """Records under a legal hold the service keeps itself (storage's documents)."""


Hook = Callable[[ServiceSettings, str, bool], Awaitable[Outside]]
"""Work outside the database: ``(settings, tenant, apply)``. Runs before the rows are deleted
(it may read them); with ``apply`` it must refuse (:class:`OffboardRefused`) while records
are held."""


def _refuse_while_held(tenant: str, held: int) -> None:
    if held:
        raise OffboardRefused(
            f"{held} record(s) of {tenant} are on legal hold: nothing was deleted; release the "
            "holds once the records are handed over, then run again"
        )


def tenant_conditions(metadata: MetaData, tenant: str) -> dict[Table, ColumnElement[bool]]:
    """The condition selecting the tenant's rows, for every table holding some (parents
    first: ``metadata.sorted_tables`` order)."""
    conditions: dict[Table, ColumnElement[bool]] = {}
    for table in metadata.sorted_tables:
        if "tenant" in table.c:
            conditions[table] = table.c.tenant == tenant
            continue
        if table.name == "tenants" and "slug" in table.c:  # identity's list of tenants
            conditions[table] = table.c.slug == tenant
            continue
        for fk in table.foreign_keys:
            parent = fk.column.table
            if isinstance(parent, Table) and parent in conditions:
                owned = select(fk.column).where(conditions[parent])
                conditions[table] = fk.parent.in_(owned.scalar_subquery())
                break
    return conditions


async def _export(connection: AsyncConnection, table: Table, where: Any, folder: Path) -> None:
    rows = await connection.execute(select(table).where(where))
    path = folder / f"{table.name}.jsonl"
    path.touch(mode=0o600)  # personal data: readable by the operator only
    with path.open("w") as out:
        for row in rows.mappings():
            out.write(json.dumps(dict(row), default=str, ensure_ascii=False) + "\n")


async def offboard(
    service: str,
    settings: ServiceSettings,
    metadata: MetaData,
    tenant: str,
    *,
    apply: bool,
    export_dir: Path | None = None,
    hook: Hook | None = None,
) -> Report:
    """Count (``apply=False``) or export then delete (``apply=True``) the tenant's data.
    Refused while one of the tenant's records is on legal hold (the hold wins)."""
    report = Report(service=service, tenant=tenant, applied=apply)
    conditions = tenant_conditions(metadata, tenant)
    engine = create_engine(settings.database_url)
    try:
        holds = metadata.tables.get("legal_holds")
        if holds is not None:
            async with engine.connect() as connection:
                held = await connection.scalar(
                    select(func.count()).select_from(holds).where(holds.c.tenant == tenant)
                )
            report.held = int(held or 0)
        if apply:
            _refuse_while_held(tenant, report.held)
        if hook is not None:
            outside = await hook(settings, tenant, apply)
            report.outside, report.held = outside.counts, report.held + outside.held
        folder = None
        if export_dir is not None and apply:
            folder = export_dir / tenant / service
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            report.exported_to = str(folder)
        async with engine.begin() as connection:
            for table, where in conditions.items():
                found = await connection.scalar(
                    select(func.count()).select_from(table).where(where)
                )
                report.tables[table.name] = int(found or 0)
                if folder is not None and found:
                    await _export(connection, table, where, folder)
            if apply:
                for table in reversed(list(conditions)):  # children first
                    await connection.execute(delete(table).where(conditions[table]))
    finally:
        await engine.dispose()
    return report


def offboard_command(
    service: str,
    settings: ServiceSettings,
    metadata: MetaData,
    tenant: str,
    *,
    apply: bool,
    export_dir: Path | None,
    hook: Hook | None,
) -> int:
    """``offboard-tenant``: print the report as JSON."""
    try:
        report = asyncio.run(
            offboard(
                service, settings, metadata, tenant, apply=apply, export_dir=export_dir, hook=hook
            )
        )
    except OffboardRefused as exc:
        print(f"socle-{service}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report.as_dict(), indent=2))
    return 0
