"""RP-initiated logout. A logout request that does not prove it comes from the person's
application (no ``id_token_hint``, or one naming someone else) is confirmed by the person
on a page with a button, so a link or an image on another site cannot end their session."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from socle_identity import hints, lifecycle
from socle_identity.authrequest import PageError
from socle_identity.models import Client, User
from socle_identity.provider import Provider
from socle_identity.sessions import current_session


@dataclass(frozen=True)
class Logout:
    """A checked logout request: where to send the browser after, and whether the person
    must confirm first."""

    client_id: str | None
    target: str | None
    confirm: bool


async def check(
    provider: Provider,
    cookie: str | None,
    *,
    id_token_hint: str | None,
    client_id: str | None,
    post_logout_redirect_uri: str | None,
    state: str | None,
) -> Logout:
    async with provider.sessions() as session, session.begin():
        login = await current_session(provider, session, cookie)
        user = await session.get(User, login.user_id) if login else None
        hint = None
        if id_token_hint:
            hint = await hints.read_hint(provider, session, id_token_hint)
            if hint is None or (client_id and client_id != hint.client_id):
                raise PageError("invalid_request", "id_token_hint is not a token we issued.")
            client_id = hint.client_id
        client = await session.get(Client, client_id) if client_id else None
        target = None
        if post_logout_redirect_uri:
            if client is None or post_logout_redirect_uri not in client.post_logout_redirect_uris:
                raise PageError(
                    "invalid_request",
                    "post_logout_redirect_uri is not registered for this client.",
                )
            target = post_logout_redirect_uri
            if state:
                sep = "&" if "?" in target else "?"
                target = f"{target}{sep}{urlencode({'state': state})}"
        proven = (
            hint is not None
            and client is not None
            and (user is None or await hints.names(provider, session, hint, client, user))
        )
        return Logout(client_id=client_id, target=target, confirm=user is not None and not proven)


async def end_session(provider: Provider, cookie: str | None) -> None:
    async with provider.sessions() as session, session.begin():
        login = await current_session(provider, session, cookie)
        if login is not None:
            ttl = await lifecycle.longest_access_ttl(session, provider.settings.access_token_ttl)
            await lifecycle.end_sessions(session, [login], ttl)
