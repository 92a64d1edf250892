"""The storage service's HTTP API, called with the citizen's own access token: the citizen
uploads their own documents, sees only their own, and shares one with a request by a grant
(tell us once: no copy)."""

from __future__ import annotations

from typing import IO, Any

import httpx
import structlog

from socle_procedures.errors import DocumentRefused, RequestNotFound, StorageUnavailable

log = structlog.get_logger("socle_procedures.storage")

#: Storage's refusals of an upload -> the message code the portal shows next to the field.
REFUSALS = {
    "file-too-large": "document_size",
    "content-type-not-allowed": "document_type",
    "content-type-mismatch": "document_type",
    "empty-file": "document_empty",
    "document-infected": "document_infected",
}


class StorageClient:
    """Uploads, lists, reads and shares a person's documents; errors become domain errors."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        try:
            response = await self._http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            log.warning("storage_unreachable", error=exc.__class__.__name__)
            raise StorageUnavailable(
                "The document store cannot be reached; nothing was kept. Try again in a moment.",
                headers={"Retry-After": "10"},
            ) from exc
        if response.status_code >= 500:
            raise StorageUnavailable(
                "The document store is not answering properly; try again in a moment.",
                headers={"Retry-After": "10"},
            )
        return response

    @staticmethod
    def _refused(response: httpx.Response) -> DocumentRefused:
        try:
            body = response.json()
        except ValueError:
            body = {}
        code = str(body.get("type", "")).rsplit("/", 1)[-1]
        log.info("document_refused", status=response.status_code, code=code)
        return DocumentRefused(
            str(body.get("detail") or f"storage answered {response.status_code}"),
            REFUSALS.get(code, "document_unreadable"),
        )

    async def upload(
        self,
        token: str,
        *,
        file: IO[bytes],
        filename: str,
        content_type: str,
        kind: str,
        procedure: str,
        idempotency_key: str,
        owner: str | None = None,
    ) -> dict[str, Any]:
        """Store a document; staff may name its ``owner`` (a person's own is always theirs)."""
        data = {"kind": kind, "procedure": procedure} | ({"owner": owner} if owner else {})
        response = await self._call(
            "POST",
            "/v1/documents",
            token,
            files={"file": (filename, file, content_type or "application/octet-stream")},
            data=data,
            headers={"Idempotency-Key": idempotency_key},
        )
        if response.status_code != 201:
            raise self._refused(response)
        body: dict[str, Any] = response.json()
        return body

    async def mine(self, token: str, kind: str) -> list[dict[str, Any]]:
        """The person's own documents of a kind, newest first (storage shows a person only
        their own)."""
        response = await self._call(
            "GET", "/v1/documents", token, params={"kind": kind, "limit": 50}
        )
        if response.status_code != 200:
            log.warning("documents_not_listed", status=response.status_code)
            return []
        items: list[dict[str, Any]] = response.json().get("items", [])
        return [d for d in items if d.get("status") == "active"]

    async def get(self, token: str, document_id: str) -> dict[str, Any] | None:
        response = await self._call("GET", f"/v1/documents/{document_id}", token)
        if response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()
        return body

    async def share(
        self, token: str, document_id: str, procedure: str, idempotency_key: str
    ) -> None:
        """Grant the request (``procedure``) access to a document stored for another."""
        response = await self._call(
            "POST",
            f"/v1/documents/{document_id}/grants",
            token,
            json={"grantee_type": "procedure", "procedure": procedure},
            headers={"Idempotency-Key": idempotency_key},
        )
        if response.status_code not in (200, 201):
            raise self._refused(response)

    async def delete(self, token: str, document_id: str) -> None:
        await self._call("DELETE", f"/v1/documents/{document_id}", token)

    async def content(self, token: str, document_id: str) -> httpx.Response:
        """A document's bytes, read with the caller's token (storage logs every read);
        ``RequestNotFound`` when storage does not show it to this caller."""
        response = await self._call("GET", f"/v1/documents/{document_id}/content", token)
        if response.status_code != 200:
            raise RequestNotFound("The document cannot be read.")
        return response
