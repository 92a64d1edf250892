"""The portal as a confidential OIDC client of identity: code flow with PKCE."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from socle_procedures.errors import IdentityUnavailable, LoginFailed

#: What the portal asks identity for; its client must be registered with all of them.
SCOPES: tuple[str, ...] = (
    "openid",
    "email",
    "profile",
    "procedures:read",
    "procedures:write",
    "payments:read",
    "payments:write",
    "documents:read",
    "documents:write",
)


@dataclass
class PendingLogin:
    state: str
    verifier: str
    nonce: str
    next: str


class OidcClient:
    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self._http = httpx.AsyncClient(timeout=10.0, transport=transport)
        self._metadata: dict[str, Any] | None = None

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)

    async def close(self) -> None:
        await self._http.aclose()

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            try:
                response = await self._http.get(f"{self.issuer}/.well-known/openid-configuration")
                response.raise_for_status()
                self._metadata = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise IdentityUnavailable("The login service cannot be reached.") from exc
        return self._metadata

    async def authorize_url(self, pending: PendingLogin, lang: str) -> str:
        _, challenge = pkce_from(pending.verifier)
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(SCOPES),
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "ui_locales": lang,
        }
        return f"{(await self.metadata())['authorization_endpoint']}?{urlencode(query)}"

    async def _post_token(self, data: dict[str, str]) -> dict[str, Any]:
        endpoint = (await self.metadata())["token_endpoint"]
        try:
            response = await self._http.post(
                endpoint, data=data, auth=(self.client_id, self.client_secret)
            )
        except httpx.HTTPError as exc:
            raise IdentityUnavailable("The login service cannot be reached.") from exc
        if response.status_code >= 500:
            raise IdentityUnavailable("The login service is not answering properly.")
        if response.status_code != 200:
            raise LoginFailed("The login could not be completed; log in again.")
        tokens: dict[str, Any] = response.json()
        return tokens

    async def exchange(self, code: str, verifier: str) -> dict[str, Any]:
        return await self._post_token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            }
        )

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        return await self._post_token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        endpoint = (await self.metadata())["userinfo_endpoint"]
        try:
            response = await self._http.get(
                endpoint, headers={"Authorization": f"Bearer {access_token}"}
            )
        except httpx.HTTPError as exc:
            raise IdentityUnavailable("The login service cannot be reached.") from exc
        if response.status_code != 200:
            return {}
        claims: dict[str, Any] = response.json()
        return claims

    async def logout_url(self, id_token: str | None, after: str) -> str:
        endpoint = (await self.metadata()).get("end_session_endpoint")
        if not endpoint:
            return after
        query = {"client_id": self.client_id, "post_logout_redirect_uri": after}
        if id_token:
            query["id_token_hint"] = id_token
        return f"{endpoint}?{urlencode(query)}"


def pkce_from(verifier: str) -> tuple[str, str]:
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
