"""Use cases of the admin API and of ``/v1/me``: each opens its own transaction; the
router parses, authorises, calls one of these and maps the result."""

from __future__ import annotations

from socle.db import in_transaction
from socle_identity import directory, erasures, exports, federation, keys, lifecycle
from socle_identity.models import Client, UpstreamProvider, User
from socle_identity.provider import Provider

request_export = in_transaction(exports.request_export)
"""Ask every service for a person's data (``person.export.requested``); the export's id."""
export_report = in_transaction(exports.report)
erasure_report = in_transaction(erasures.report)
public_jwks = in_transaction(keys.public_jwks)


async def client_by_id(p: Provider, client_id: str) -> Client | None:
    async with p.sessions() as session, session.begin():
        return await session.get(Client, client_id)


async def list_clients(p: Provider, *, tenant: str) -> list[Client]:
    async with p.sessions() as session, session.begin():
        return await directory.list_clients(session, tenant=tenant)


async def get_client(p: Provider, *, tenant: str, client_id: str) -> Client:
    async with p.sessions() as session, session.begin():
        return await directory.get_client(session, tenant=tenant, client_id=client_id)


async def set_client_enabled(p: Provider, *, tenant: str, client_id: str, enabled: bool) -> Client:
    """Disable a client (no more tokens, every token it holds refused at once,
    ``token.revoked`` published) or enable it again."""
    async with p.sessions() as session, session.begin():
        client = await directory.get_client(session, tenant=tenant, client_id=client_id)
        await lifecycle.set_client_enabled(
            session, client, enabled=enabled, default_ttl=p.settings.access_token_ttl
        )
        return client


async def delete_client(p: Provider, *, tenant: str, client_id: str) -> None:
    async with p.sessions() as session, session.begin():
        client = await directory.get_client(session, tenant=tenant, client_id=client_id)
        await lifecycle.delete_client(session, client, default_ttl=p.settings.access_token_ttl)


async def rotate_client_secret(
    p: Provider, *, tenant: str, client_id: str, revoke_tokens: bool
) -> tuple[Client, str]:
    """The client and its new secret (shown once)."""
    async with p.sessions() as session, session.begin():
        client = await directory.get_client(session, tenant=tenant, client_id=client_id)
        secret = await lifecycle.rotate_client_secret(
            session, client, revoke_tokens=revoke_tokens, default_ttl=p.settings.access_token_ttl
        )
        return client, secret


async def get_user(p: Provider, *, tenant: str, user_id: str) -> User:
    async with p.sessions() as session, session.begin():
        return await directory.get_user(session, tenant=tenant, user_id=user_id)


async def delete_user(p: Provider, *, tenant: str, user_id: str) -> str:
    """Erase an account (its tokens revoked, ``user.deleted`` published); the id of its
    erasure report."""
    async with p.sessions() as session, session.begin():
        return await lifecycle.delete_user(
            session,
            tenant=tenant,
            user_id=user_id,
            default_ttl=p.settings.access_token_ttl,
            erasing_services=p.settings.erasure_services,
        )


async def configure_federation(
    p: Provider,
    *,
    tenant: str,
    name: str,
    issuer: str,
    client_id: str,
    client_secret: str,
    scopes: str,
) -> UpstreamProvider:
    async with p.sessions() as session, session.begin():
        return await federation.configure(
            session,
            p,
            tenant=tenant,
            name=name,
            issuer=issuer,
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes,
        )


async def show_federation(p: Provider, *, tenant: str) -> UpstreamProvider:
    async with p.sessions() as session, session.begin():
        return await federation.upstream_of(session, tenant)
