"""Portal sessions: the browser holds a random id in an HttpOnly, SameSite=Lax cookie
(``Secure`` outside development); the tokens stay on the server. The login in progress
(state, PKCE verifier, nonce) travels in a short-lived signed cookie."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from socle import clock
from socle_procedures.models import PortalSession
from socle_procedures.portal.oidc import PendingLogin

SESSION_COOKIE = "socle_portal"
LOGIN_COOKIE = "socle_portal_login"
LANG_COOKIE = "socle_lang"
LOGIN_TTL = 600


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def sign(secret: str, payload: dict[str, Any]) -> str:
    raw = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
    mac = hmac.new(secret.encode(), raw.encode(), hashlib.sha256).hexdigest()
    return f"{raw}.{mac}"


def unsign(secret: str, value: str | None) -> dict[str, Any] | None:
    if not value or "." not in value:
        return None
    raw, _, mac = value.rpartition(".")
    expected = hmac.new(secret.encode(), raw.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(raw))
    except ValueError:
        return None
    if payload.get("exp", 0) < clock.now().timestamp():
        return None
    return payload


def new_login(next_path: str) -> PendingLogin:
    return PendingLogin(
        state=secrets.token_urlsafe(24),
        verifier=secrets.token_urlsafe(48),
        nonce=secrets.token_urlsafe(24),
        next=next_path,
    )


def set_login_cookie(response: Response, secret: str, pending: PendingLogin, secure: bool) -> None:
    payload = {
        "state": pending.state,
        "verifier": pending.verifier,
        "nonce": pending.nonce,
        "next": pending.next,
        "exp": int(clock.now().timestamp()) + LOGIN_TTL,
    }
    response.set_cookie(
        LOGIN_COOKIE,
        sign(secret, payload),
        max_age=LOGIN_TTL,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/auth",
    )


def read_login_cookie(secret: str, value: str | None) -> PendingLogin | None:
    payload = unsign(secret, value)
    if payload is None:
        return None
    return PendingLogin(payload["state"], payload["verifier"], payload["nonce"], payload["next"])


async def open_session(
    session: AsyncSession,
    *,
    tenant: str,
    subject: str,
    tokens: dict[str, Any],
    claims: dict[str, Any],
    ttl: int,
) -> str:
    """Store a new session; the returned id goes in the cookie (only its digest is stored)."""
    now = clock.now()
    session_id = secrets.token_urlsafe(32)
    session.add(
        PortalSession(
            id_hash=_digest(session_id),
            tenant=tenant,
            subject=subject,
            csrf=secrets.token_urlsafe(24),
            access_token=tokens["access_token"],
            access_expires_at=now + timedelta(seconds=int(tokens.get("expires_in", 300))),
            refresh_token=tokens.get("refresh_token"),
            id_token=tokens.get("id_token"),
            claims=claims,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    await session.execute(delete(PortalSession).where(PortalSession.expires_at < now))
    return session_id


async def find(session: AsyncSession, session_id: str | None) -> PortalSession | None:
    if not session_id:
        return None
    found = (
        await session.execute(
            select(PortalSession).where(PortalSession.id_hash == _digest(session_id))
        )
    ).scalar_one_or_none()
    if found is None or found.expires_at < clock.now():
        return None
    return found


async def close(session: AsyncSession, session_id: str | None) -> PortalSession | None:
    found = await find(session, session_id)
    if found is not None:
        await session.delete(found)
    return found


def set_session_cookie(response: Response, session_id: str, ttl: int, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=ttl,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def csrf_ok(expected: str, token: str | None) -> bool:
    return bool(expected and token) and hmac.compare_digest(expected, token or "")
