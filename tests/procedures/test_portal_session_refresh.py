"""A portal page whose access token expired refreshes it at identity without keeping a
database transaction open meanwhile: while identity is slow to answer, the portal holds no
transaction on its sessions; once it answers, the page shows and the new tokens are kept."""

from __future__ import annotations

import asyncio
import json
import threading
from urllib.parse import parse_qs

from sqlalchemy import text

from socle_dev.stub_http import Answer, Recorded, StubServer
from socle_dev.testing import eventually
from socle_procedures.models import PortalSession
from socle_procedures.portal import sessions
from socle_procedures.portal.oidc import OidcClient

# Connections of the portal's database inside a transaction that read the portal's sessions
# and now wait (on the network, for instance).
WAITING = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND state = 'idle in transaction' AND query ILIKE '%portal_sessions%'"
)


async def test_a_slow_token_refresh_holds_no_transaction(platform):
    ctx = platform.app.state.runtime.context
    db = platform.app.state.runtime.sessions
    fresh = platform.token("citizen-refreshed")
    release = threading.Event()

    def identity(request: Recorded) -> Answer:
        if request.path.endswith("/.well-known/openid-configuration"):
            body = {"token_endpoint": f"{stub.url}/token", "userinfo_endpoint": f"{stub.url}/u"}
            return Answer(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
        release.wait(30)  # identity is slow: the test looks at the database meanwhile
        tokens = {"access_token": fresh, "refresh_token": "refresh-2", "expires_in": 300}
        return Answer(200, json.dumps(tokens).encode(), {"Content-Type": "application/json"})

    with StubServer() as stub:
        stub.respond = identity
        old_oidc = ctx.portal.oidc
        ctx.portal.oidc = OidcClient(stub.url, "portal", "secret", "http://testserver/cb")
        try:
            async with db() as session, session.begin():
                session_id = await sessions.open_session(
                    session,
                    tenant=platform.tenant,
                    subject="citizen-refreshed",
                    tokens={"access_token": "expired", "refresh_token": "r1", "expires_in": 0},
                    claims={},
                    ttl=3600,
                )
            page = asyncio.create_task(
                platform.api.get("/my-requests", cookies={sessions.SESSION_COOKIE: session_id})
            )

            async def refresh_asked() -> bool:
                return any(r.path == "/token" for r in stub.requests)

            await eventually(refresh_asked, "the portal asks identity for new tokens")
            async with db() as session:
                waiting = await session.scalar(WAITING)
            release.set()
            response = await page
        finally:
            release.set()
            await ctx.portal.oidc.close()
            ctx.portal.oidc = old_oidc

    assert waiting == 0
    assert response.status_code == 200
    assert "/auth/login" not in str(response.url)
    sent = parse_qs(next(r for r in stub.requests if r.path == "/token").body.decode())
    assert sent["grant_type"] == ["refresh_token"] and sent["refresh_token"] == ["r1"]
    async with db() as session:
        kept = await sessions.find(session, session_id)
        assert isinstance(kept, PortalSession)
        assert kept.access_token == fresh and kept.refresh_token == "refresh-2"
