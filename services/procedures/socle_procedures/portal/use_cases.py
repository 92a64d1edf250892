"""The use cases of the citizen's portal: each opens its own transactions, and none is open
while identity or storage is called (a token refresh, a login, a file upload). The pages parse
the form, check the session, call one of these and render the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from socle import clock
from socle.auth import Principal, TokenVerifier
from socle.db import Sessions, in_transaction
from socle.problems import DomainError
from socle_procedures import catalog, requests, review, use_cases
from socle_procedures.context import ProceduresContext
from socle_procedures.definitions.answers import AnswerError, check_step
from socle_procedures.errors import InvalidAnswers
from socle_procedures.models import PortalSession, ProcedureVersion
from socle_procedures.portal import documents, forms, sessions
from socle_procedures.portal.oidc import OidcClient

#: An access token this close to its expiry is refreshed before the page uses it.
REFRESH_MARGIN = timedelta(seconds=30)

# -- the login session -------------------------------------------------------------------
find_session = in_transaction(sessions.find)
close_session = in_transaction(sessions.close)
open_session = in_transaction(sessions.open_session)


async def _store_tokens(
    session: AsyncSession, session_id: str, tokens: dict[str, Any]
) -> PortalSession | None:
    found = await sessions.find(session, session_id)
    if found is not None:
        found.access_token = tokens["access_token"]
        found.refresh_token = tokens.get("refresh_token", found.refresh_token)
        found.access_expires_at = clock.now() + timedelta(
            seconds=int(tokens.get("expires_in", 300))
        )
    return found


store_tokens = in_transaction(_store_tokens)


async def current_session(
    db: Sessions, oidc: OidcClient, session_id: str | None
) -> PortalSession | None:
    """The live session the cookie names, its access token refreshed at identity when it is
    about to expire (the refresh runs between two transactions); ``None`` when there is none
    or identity refuses the refresh."""
    found = await find_session(db, session_id)
    if found is None or found.access_expires_at > clock.now() + REFRESH_MARGIN:
        return found
    if not found.refresh_token or session_id is None:
        return None
    try:
        tokens = await oidc.refresh(found.refresh_token)
    except DomainError:
        return None
    return await store_tokens(db, session_id, tokens)


async def log_in(
    ctx: ProceduresContext, verifier: TokenVerifier, code: str, code_verifier: str
) -> str:
    """Exchange the authorisation code at identity, then store the new session (in its own
    transaction, after identity answered); the returned id goes in the cookie. Identity
    refusing or down: the :class:`DomainError` it raised."""
    oidc = ctx.portal.oidc
    tokens = await oidc.exchange(code, code_verifier)
    principal = await verifier.verify(tokens["access_token"])
    claims = await oidc.userinfo(tokens["access_token"])
    return await open_session(
        ctx.sessions,
        tenant=principal.tenant,
        subject=principal.subject,
        tokens=tokens,
        claims=claims,
        ttl=ctx.portal.settings.portal_session_ttl,
    )


async def log_out(ctx: ProceduresContext, session_id: str | None, after: str) -> str | None:
    """Close the session, then the address that logs out at identity too and comes back to
    ``after`` (``None`` when identity cannot be reached)."""
    closed = await close_session(ctx.sessions, session_id)
    try:
        return await ctx.portal.oidc.logout_url(closed.id_token if closed else None, after)
    except DomainError:
        return None


# -- requests ----------------------------------------------------------------------------
start = in_transaction(requests.create)
load_request = in_transaction(requests.load)


async def _my_requests(
    session: AsyncSession, principal: Principal
) -> tuple[list[Any], dict[str, ProcedureVersion]]:
    rows, _ = await requests.listing(session, principal, limit=200)
    versions = await catalog.listing(session, principal.tenant, include_all=True)
    return rows, {v.id: v for v in versions}


my_requests = in_transaction(_my_requests)
"""The person's requests (newest first, 200 at most), and the versions they were made on."""


async def _to_check(
    session: AsyncSession, principal: Principal, request_id: str, locale: str
) -> tuple[requests.Loaded, str | None]:
    loaded = await requests.load(session, principal, request_id)
    return loaded, await review.information_asked(session, loaded, locale)


to_check = in_transaction(_to_check)
"""A request to check before it is sent, and what the commune asked to correct (if it did)."""


async def _step(
    session: AsyncSession, principal: Principal, request_id: str, step_id: str
) -> tuple[requests.Loaded, dict[str, Any]]:
    loaded = await requests.load(session, principal, request_id)
    return loaded, requests.step_of(loaded.definition, loaded.request.answers, step_id)


load_step = in_transaction(_step)


@dataclass
class StepForm:
    """A step as the citizen sees it: the request, the step, and for a refused answer what
    was sent (``shown``) with the errors next to their fields."""

    loaded: requests.Loaded
    step: dict[str, Any]
    shown: dict[str, Any]
    offered: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: list[AnswerError] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    """After a saved step: the steps still to answer."""
    refused: bool = False
    """Nothing was saved: the form comes back with ``errors``."""


async def _offers(
    ctx: ProceduresContext, token: str, step: dict[str, Any]
) -> dict[str, list[dict[str, Any]]]:
    if not documents.document_fields(step):
        return {}
    return await documents.offers(ctx.storage, token, step)


async def step_form(
    ctx: ProceduresContext, principal: Principal, token: str, request_id: str, step_id: str
) -> StepForm:
    """A step to answer, with the documents the citizen already stored that it may take
    (asked of storage once the transaction is over)."""
    loaded, step = await load_step(ctx.sessions, principal, request_id, step_id)
    offered = await _offers(ctx, token, step) if loaded.request.state in requests.EDITABLE else {}
    return StepForm(loaded, step, dict(loaded.request.answers), offered)


async def answer_step(
    ctx: ProceduresContext,
    principal: Principal,
    token: str,
    request_id: str,
    step_id: str,
    form: FormData,
) -> StepForm:
    """Save the answers of a step sent from the portal: files go to storage first (no
    transaction open meanwhile), then the answers are checked and saved. Refused (a file or
    an answer): nothing is saved, and the errors come back with the form as sent."""
    loaded, step = await load_step(ctx.sessions, principal, request_id, step_id)
    raw = forms.raw_answers(step, form)
    file_errors: list[AnswerError] = []
    if documents.document_fields(step):
        attached, file_errors = await documents.resolve(
            ctx.storage, token, loaded.request, step, form
        )
        raw |= attached
    today = clock.now().date()
    try:
        if file_errors:
            raise InvalidAnswers("A file was refused; nothing was saved.")
        loaded = await use_cases.save_step(
            ctx.sessions, principal, request_id, step_id, raw, today=today
        )
    except InvalidAnswers:
        # the failed transaction expired what it had loaded: read the request again
        loaded = await load_request(ctx.sessions, principal, request_id)
        _, found = check_step(step, raw, loaded.request.answers, today)
        bad_files = {e.field for e in file_errors}
        errors = file_errors + [e for e in found if e.field not in bad_files]
        offered = await _offers(ctx, token, step)
        return StepForm(loaded, step, loaded.request.answers | raw, offered, errors, refused=True)
    missing = requests.missing_steps(loaded, today)
    return StepForm(loaded, step, dict(loaded.request.answers), missing=missing)
