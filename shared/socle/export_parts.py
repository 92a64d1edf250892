"""Where a service writes its part of a person's data export: storage's
``PUT /v1/exports/{export_id}/parts/{service}``, with a token the service gets for itself
(client credentials, scopes ``documents:read documents:write``) from identity. Identity reads
the archive of the parts the same way."""

from __future__ import annotations

import time

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.bus import ConsumerSpec
from socle.config import ServiceSettings
from socle.privacy import CollectFn, ExportRequest, StoreFn, export_consumer

SCOPES = "documents:read documents:write"


class ExportPartsSettings(ServiceSettings):
    """Settings of a service that writes export parts to storage (its settings extend these)."""

    export_storage_url: str = ""
    """Storage's API, where this service writes its part of an export; empty: it writes
    none (the export names it silent)."""
    export_client_id: str = ""
    """The service's own client at identity (client credentials, scopes ``documents:read
    documents:write``, role ``admin``)."""
    export_client_secret: str = ""
    """Its client secret."""

    @property
    def writes_export_parts(self) -> bool:
        return bool(self.export_storage_url and self.export_client_id)


class StoragePartWriter:
    """Writes parts to storage; its token is kept until shortly before it expires."""

    def __init__(
        self, *, issuer: str, storage_url: str, client_id: str, client_secret: str
    ) -> None:
        self._issuer = issuer.rstrip("/")
        self._storage = storage_url.rstrip("/")
        self._auth = (client_id, client_secret)
        self._token = ""
        self._until = 0.0

    async def _bearer(self, http: httpx.AsyncClient) -> str:
        if time.monotonic() < self._until:
            return self._token
        answer = await http.post(
            f"{self._issuer}/token",
            data={"grant_type": "client_credentials", "scope": SCOPES},
            auth=self._auth,
        )
        answer.raise_for_status()
        body = answer.json()
        self._token = str(body["access_token"])
        self._until = time.monotonic() + max(int(body.get("expires_in", 60)) - 30, 0)
        return self._token

    async def write(self, request: ExportRequest, service: str, body: bytes) -> str:
        """Keep the part; where it lies. Raises when storage refuses or cannot be reached
        (the inbox then leaves the event to be delivered again)."""
        async with httpx.AsyncClient(timeout=60) as http:
            answer = await http.put(
                f"{self._storage}/v1/exports/{request.export_id}/parts/{service}",
                content=body,
                headers={
                    "Authorization": f"Bearer {await self._bearer(http)}",
                    "Content-Type": "application/json",
                },
                # storage refuses a part of another tenant than the client's
                params={"tenant": request.tenant},
            )
        answer.raise_for_status()
        return str(answer.json()["object"])

    async def archive(self, tenant: str, export_id: str) -> bytes:
        """The ZIP of an export's parts, from storage."""
        async with httpx.AsyncClient(timeout=120) as http:
            answer = await http.get(
                f"{self._storage}/v1/exports/{export_id}/archive",
                headers={"Authorization": f"Bearer {await self._bearer(http)}"},
            )
        answer.raise_for_status()
        return answer.content

    async def delete(self, tenant: str, export_id: str) -> None:
        """Delete every part of an export from storage (nothing left is fine)."""
        async with httpx.AsyncClient(timeout=60) as http:
            answer = await http.delete(
                f"{self._storage}/v1/exports/{export_id}",
                headers={"Authorization": f"Bearer {await self._bearer(http)}"},
                params={"tenant": tenant},
            )
        answer.raise_for_status()


def storage_parts(settings: ExportPartsSettings, issuer: str) -> StoragePartWriter:
    return StoragePartWriter(
        issuer=issuer,
        storage_url=settings.export_storage_url,
        client_id=settings.export_client_id,
        client_secret=settings.export_client_secret,
    )


def part_writer(settings: ExportPartsSettings, issuer: str) -> StoreFn:
    return storage_parts(settings, issuer).write


def export_consumers(
    service: str,
    sessions: async_sessionmaker[AsyncSession],
    collect: CollectFn,
    settings: ExportPartsSettings,
    issuer: str,
) -> list[ConsumerSpec]:
    """The consumer of ``person.export.requested`` writing ``service``'s part to storage;
    none when the service has no export client configured."""
    if not settings.writes_export_parts:
        return []
    return [export_consumer(service, sessions, collect, part_writer(settings, issuer))]
