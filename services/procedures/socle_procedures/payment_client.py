"""The payment service's HTTP API, called with the citizen's own access token."""

from __future__ import annotations

from typing import Any

import httpx
import structlog

from socle_procedures.errors import PaymentRefused, PaymentUnavailable

log = structlog.get_logger("socle_procedures.payment")


class PaymentClient:
    """``POST /v1/payments``, ``GET /v1/payments/{id}`` and refunds; errors become domain
    errors."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, token: str, **kwargs: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        try:
            response = await self._http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            log.warning("payment_unreachable", error=exc.__class__.__name__)
            raise PaymentUnavailable(
                "The payment service cannot be reached; nothing was charged. Try again in a "
                "moment.",
                headers={"Retry-After": "10"},
            ) from exc
        if response.status_code >= 500 or _still_running(response):
            raise PaymentUnavailable(
                "The payment service is not answering properly; try again in a moment.",
                headers={"Retry-After": "10"},
            )
        if response.status_code >= 400:
            try:
                detail = str(response.json().get("detail", ""))
            except ValueError:
                detail = ""
            log.warning("payment_refused", status=response.status_code)
            raise PaymentRefused(
                f"The payment service answered {response.status_code}: {detail}".strip()
            )
        body: dict[str, Any] = response.json()
        return body

    async def create(
        self, token: str, body: dict[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        return await self._call(
            "POST", "/v1/payments", token, json=body, headers={"Idempotency-Key": idempotency_key}
        )

    async def get(self, token: str, payment_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/v1/payments/{payment_id}", token)

    async def refund(
        self,
        token: str,
        payment_id: str,
        *,
        amount: int | None,
        reason: str | None,
        idempotency_key: str,
    ) -> dict[str, Any]:
        """Refund ``amount`` minor units (None: all that remains); payment allows it to the
        commune's staff only."""
        body: dict[str, Any] = {"amount": amount, "reason": reason}
        return await self._call(
            "POST",
            f"/v1/payments/{payment_id}/refunds",
            token,
            json={k: v for k, v in body.items() if v is not None},
            headers={"Idempotency-Key": idempotency_key},
        )


def _still_running(response: httpx.Response) -> bool:
    """Payment is still working on the first request with this Idempotency-Key (it waits
    for its provider): the same request, retried in a moment, gets that request's answer."""
    if response.status_code != 409:
        return False
    try:
        problem_type = str(response.json().get("type", ""))
    except ValueError:
        return False
    return problem_type.endswith("/idempotency-in-progress")
