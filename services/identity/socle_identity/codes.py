"""Authorization codes: what the authorization endpoint hands the client to exchange at the
token endpoint."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import utcnow
from socle_identity.models import AuthorizationCode, Client, User
from socle_identity.passwords import digest, new_secret

if TYPE_CHECKING:
    from socle_identity.provider import Provider


@dataclass
class CodeRequest:
    client: Client
    user: User
    redirect_uri: str
    scopes: list[str]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: datetime
    acr: str
    amr: list[str]
    session_id: str | None = None


async def create_code(provider: Provider, session: AsyncSession, request: CodeRequest) -> str:
    code = new_secret()
    session.add(
        AuthorizationCode(
            code_hash=digest(code),
            client_id=request.client.client_id,
            user_id=request.user.id,
            tenant=request.user.tenant,
            redirect_uri=request.redirect_uri,
            scope=" ".join(request.scopes),
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
            auth_time=request.auth_time,
            acr=request.acr,
            amr=request.amr,
            family_id=uuid.uuid4().hex,
            session_id=request.session_id,
            expires_at=utcnow() + timedelta(seconds=provider.settings.code_ttl),
        )
    )
    await session.flush()
    return code
