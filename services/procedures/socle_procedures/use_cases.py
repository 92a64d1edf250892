"""The use cases of the procedures API and staff pages: each opens its own transaction
(``in_transaction`` around a domain step, or a step of its own here when one call does several).
Routers and pages parse, authorise, call one of these and map the result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from socle.auth import Principal
from socle.db import in_transaction
from socle_procedures import (
    catalog,
    catalogue,
    decisions,
    mandates,
    queue,
    requests,
    review,
    stats,
)
from socle_procedures.events import Site
from socle_procedures.models import Mandate, ProcedureVersion, RequestHistory, RequestNote
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
mandate_by_link = in_transaction(mandates.by_link)

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


# -- the back office ---------------------------------------------------------------------
export_queue = in_transaction(queue.export_csv)
staff_load = in_transaction(review.load_for_staff)


async def _record_refund(
    session: AsyncSession,
    principal: Principal,
    request_id: str,
    *,
    refund_id: str,
    amount: int,
    reason: str | None,
    on: datetime,
) -> None:
    loaded = await review.load_for_staff(session, principal, request_id, lock=True)
    request = loaded.request
    session.add(
        RequestHistory(
            request_id=request.id,
            tenant=request.tenant,
            from_state=request.state,
            to_state=request.state,
            actor=principal.subject,
            note=reason,
            at=on,
            action="refund",
            changes={
                "refund": {"before": None, "after": refund_id},
                "amount": {"before": None, "after": amount},
            },
        )
    )


record_refund = in_transaction(_record_refund)
"""Write a refund payment made in the request's history."""


async def _queue(
    session: AsyncSession, principal: Principal, f: queue.Filters
) -> tuple[queue.QueuePage, list[ProcedureVersion]]:
    found = await queue.page(session, principal, f)
    return found, await catalog.listing(session, principal.tenant, include_all=True)


queue_page = in_transaction(_queue)
"""One page of the queue, and every procedure version of the tenant (for titles)."""


async def _staff_seen(session: AsyncSession, principal: Principal, request_id: str) -> Seen:
    loaded = await review.load_for_staff(session, principal, request_id)
    return loaded, await requests.history(session, request_id)


staff_request = in_transaction(_staff_seen)
"""A request of the caller's commune (staff only), with its history."""


@dataclass
class StaffView:
    loaded: requests.Loaded
    history: list[RequestHistory]
    notes: list[RequestNote]
    mandates: list[Mandate]


async def _staff_view(session: AsyncSession, principal: Principal, request_id: str) -> StaffView:
    loaded, history = await _staff_seen(session, principal, request_id)
    return StaffView(
        loaded,
        history,
        await review.notes(session, principal, request_id),
        await mandates.of_request(session, request_id),
    )


staff_view = in_transaction(_staff_view)
"""What the back office shows of a request: it, its history, notes and mandates."""
