"""``python -m socle_identity list-tenants|show-tenant SLUG``: the communes, as JSON; and what
offboarding a tenant does in identity before its rows go."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from socle.cli import Command
from socle.config import ServiceSettings
from socle.db import create_engine, create_sessionmaker
from socle.offboarding import Outside
from socle_identity import directory, lifecycle
from socle_identity.models import Client, Tenant, User
from socle_identity.settings import IdentitySettings


def _run(settings: ServiceSettings, work: Callable[[Any], Any]) -> Any:
    async def go() -> Any:
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _list(settings: ServiceSettings, args: argparse.Namespace) -> int:
    async def work(session: Any) -> list[dict[str, Any]]:
        rows = (await session.execute(select(Tenant).order_by(Tenant.slug))).scalars()
        return [{"slug": t.slug, "name": t.name, "created_at": t.created_at} for t in rows]

    print(json.dumps(_run(settings, work), indent=2, default=str))
    return 0


def _show(settings: ServiceSettings, args: argparse.Namespace) -> int:
    async def work(session: Any) -> dict[str, Any]:
        tenant = await directory.require_tenant(session, args.slug)

        async def count(model: Any) -> int:
            found = await session.scalar(
                select(func.count()).select_from(model).where(model.tenant == tenant.slug)
            )
            return int(found or 0)

        return {
            "slug": tenant.slug,
            "name": tenant.name,
            "created_at": tenant.created_at,
            "clients": await count(Client),
            "users": await count(User),
        }

    print(json.dumps(_run(settings, work), indent=2, default=str))
    return 0


def _slug_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("slug")


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Command]] = {
    "list-tenants": ("list the tenants (communes)", lambda p: None, _list),
    "show-tenant": ("show a tenant: name, clients, people", _slug_args, _show),
}


async def close_tenant(settings: ServiceSettings, tenant: str, apply: bool) -> Outside:
    """Offboarding, first: no new work for the tenant. Its clients are disabled (no more
    tokens) and every token they were issued is refused by every service (``token.revoked``,
    kept after the tenant's rows are gone)."""
    assert isinstance(settings, IdentitySettings)
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            clients = (
                await session.execute(select(Client).where(Client.tenant == tenant))
            ).scalars()
            closed = 0
            for client in clients:
                closed += 1
                if apply:
                    await lifecycle.set_client_enabled(
                        session, client, enabled=False, default_ttl=settings.access_token_ttl
                    )
    finally:
        await engine.dispose()
    return Outside({"clients_disabled_and_tokens_revoked": closed})
