"""The use cases of the procedures API: each opens its own transaction (``in_transaction``
around a domain step, or a step of its own here when one call does several). Routers parse,
authorise, call one of these and map the result."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from socle.auth import Principal
from socle.db import in_transaction
from socle_procedures import catalog, catalogue, decisions, mandates, requests, review, stats
from socle_procedures.events import Site
from socle_procedures.models import RequestHistory
from socle_procedures.storage_client import StorageClient

# -- procedures and the shared catalogue -------------------------------------------------
publish = in_transaction(catalog.publish)
retire = in_transaction(catalog.retire)
procedures = in_transaction(catalog.listing)
procedure = in_transaction(catalog.current)
share = in_transaction(catalogue.share)
catalogue_entries = in_transaction(catalogue.entries)
adopt = in_transaction(catalogue.adopt)
statistics = in_transaction(stats.figures)

# -- requests ----------------------------------------------------------------------------
requests_page = in_transaction(requests.listing)
save_step = in_transaction(requests.save_step)
submit = in_transaction(requests.submit)
move = in_transaction(requests.move)
notes = in_transaction(review.notes)
add_note = in_transaction(review.add_note)

# -- mandates ----------------------------------------------------------------------------
start_mandate = in_transaction(mandates.start)
mandates_of = in_transaction(mandates.of_person)
confirm_mandate = in_transaction(mandates.confirm)
revoke_mandate = in_transaction(mandates.revoke)

Seen = tuple[requests.Loaded, list[RequestHistory]]


async def _with_history(session: AsyncSession, principal: Principal, request_id: str) -> Seen:
    loaded = await requests.load(session, principal, request_id)
    return loaded, await requests.history(session, request_id)


request_with_history = in_transaction(_with_history)
"""A request the caller may see, with its history."""


async def _act(
    session: AsyncSession,
    principal: Principal,
    request_id: str,
    action: review.Action,
    *,
    storage: StorageClient,
    token: str,
    site: Site,
    on: datetime,
) -> Seen:
    decide = decisions.issuer(session, storage, token, site.commune, on)
    loaded = await review.act(session, principal, request_id, action, site=site, decide=decide)
    return loaded, await requests.history(session, request_id)


act = in_transaction(_act)
"""A back-office action; an approval stores its decision PDF in storage with ``token``
(storage refusing or down: nothing is approved)."""
