"""Digital mediation: a mediator (role ``mediator``) files a request for a citizen under a
mandate. The mandate is live once the citizen confirms it through the link e-mailed to them,
or at once when the mediator files a signed paper mandate (a storage document of kind
``mandate``). The citizen's link also makes the request theirs ("my requests"); the citizen
can revoke the mandate at any time, and the mediator then no longer reaches the request
(404). Every step is in the request's history and in events."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from socle import clock
from socle.auth import Principal
from socle.db import for_update
from socle.eventtypes import procedures as payloads
from socle.outbox import record_event
from socle.problems import Forbidden
from socle.web.i18n import localized
from socle_procedures import requests
from socle_procedures.errors import InvalidMandate, MandateNotFound, MandateRevoked
from socle_procedures.events import (
    MANDATE_CONFIRMED,
    MANDATE_REQUESTED,
    MANDATE_REVOKED,
    Site,
)
from socle_procedures.models import Mandate, Request, RequestHistory


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def confirm_url(site: Site | None, mandate_id: str, token: str) -> str:
    base = site.portal_url.rstrip("/") if site else ""
    return f"{base}/mandates/{mandate_id}?token={token}"


def require_mediator(principal: Principal) -> None:
    if not principal.has_role("mediator") or principal.is_client:
        raise Forbidden("Only a mediator may file for someone else.", code="not-a-mediator")


async def start(
    session: AsyncSession,
    principal: Principal,
    slug: str,
    *,
    citizen_name: str,
    citizen_email: str,
    locale: str,
    paper: Mapping[str, Any] | None = None,
    site: Site | None = None,
) -> tuple[Mandate, requests.Loaded]:
    """A draft filed by the mediator for the citizen, and its mandate. ``paper``: storage's
    description of the signed paper mandate (must be of kind ``mandate``), if any."""
    require_mediator(principal)
    if paper is not None and paper.get("kind") != "mandate":
        raise InvalidMandate(
            "A paper mandate is a document of kind 'mandate'.",
            errors=[{"pointer": "/paper_mandate_document_id", "code": "wrong-kind"}],
        )
    mandate_id = uuid.uuid4().hex
    placeholder = Principal(
        subject=f"mandate:{mandate_id}",
        tenant=principal.tenant,
        client_id=principal.client_id,
        scopes=principal.scopes,
        roles=frozenset({"citizen"}),
    )
    loaded = await requests.create(
        session,
        placeholder,
        slug,
        locale=locale,
        claims={"email": citizen_email, "name": citizen_name},
        site=site,
    )
    token = secrets.token_urlsafe(32)  # a new one is minted for the mail (mandate_mails)
    now = clock.now()
    mandate = Mandate(
        id=mandate_id,
        tenant=principal.tenant,
        request_id=loaded.request.id,
        mediator=principal.subject,
        mediator_name=str(principal.claims.get("name") or principal.subject)[:255],
        citizen_name=citizen_name,
        citizen_email=citizen_email,
        kind="paper" if paper is not None else "email",
        document_id=str(paper["id"]) if paper is not None else None,
        token_hash=digest(token),
        status="live" if paper is not None else "pending",
        created_at=now,
        confirmed_at=now if paper is not None else None,
    )
    session.add(mandate)
    await _record(session, loaded.request, mandate, "mandate_" + mandate.status, principal.subject)
    title = localized(loaded.definition.get("title"), locale) or slug
    await _announce(
        session,
        mandate,
        MANDATE_REQUESTED,
        # no address, no link: notify asks for both when it mails (mandate_mails)
        {"locale": locale, "title": title, "commune": site.commune if site else ""},
    )
    return mandate, loaded


async def _find(session: AsyncSession, principal: Principal, mandate_id: str) -> Mandate:
    query = select(Mandate).where(Mandate.id == mandate_id, Mandate.tenant == principal.tenant)
    mandate = (await session.execute(for_update(query))).scalar_one_or_none()
    if mandate is None:
        raise MandateNotFound(f"No mandate {mandate_id} you can see.")
    return mandate


async def by_link(
    session: AsyncSession, principal: Principal, mandate_id: str, token: str
) -> Mandate:
    """The mandate the e-mailed link names (404 with a wrong token)."""
    mandate = await _find(session, principal, mandate_id)
    if not hmac.compare_digest(mandate.token_hash, digest(token)):
        raise MandateNotFound(f"No mandate {mandate_id} you can see.")
    return mandate


async def confirm(
    session: AsyncSession, principal: Principal, mandate_id: str, token: str
) -> Mandate:
    """The citizen, logged in, confirms through the e-mailed link: the mandate is live and
    the request becomes theirs."""
    mandate = await by_link(session, principal, mandate_id, token)
    if mandate.status == "revoked":
        raise MandateRevoked("This mandate was revoked.")
    if mandate.citizen is not None and mandate.citizen != principal.subject:
        raise MandateNotFound(f"No mandate {mandate_id} you can see.")
    request = await session.get(Request, mandate.request_id, with_for_update=False)
    assert request is not None
    mandate.citizen = principal.subject
    mandate.status = "live"
    mandate.confirmed_at = mandate.confirmed_at or clock.now()
    request.owner = principal.subject
    await _record(session, request, mandate, "mandate_confirmed", principal.subject)
    await _announce(session, mandate, MANDATE_CONFIRMED, {})
    return mandate


async def revoke(session: AsyncSession, principal: Principal, mandate_id: str) -> Mandate:
    """The citizen (or the mediator) ends the mandate: the mediator is out at once."""
    mandate = await _find(session, principal, mandate_id)
    if principal.subject not in (mandate.citizen, mandate.mediator):
        raise MandateNotFound(f"No mandate {mandate_id} you can see.")
    if mandate.status != "revoked":
        request = await session.get(Request, mandate.request_id)
        assert request is not None
        mandate.status, mandate.revoked_at = "revoked", clock.now()
        await _record(session, request, mandate, "mandate_revoked", principal.subject)
        await _announce(session, mandate, MANDATE_REVOKED, {})
    return mandate


async def of_request(session: AsyncSession, request_id: str) -> list[Mandate]:
    query = select(Mandate).where(Mandate.request_id == request_id).order_by(Mandate.created_at)
    return list((await session.execute(query)).scalars())


async def of_person(session: AsyncSession, principal: Principal) -> list[Mandate]:
    """The mandates a citizen gave, or a mediator holds."""
    query = select(Mandate).where(
        Mandate.tenant == principal.tenant,
        (Mandate.citizen == principal.subject) | (Mandate.mediator == principal.subject),
    )
    return list((await session.execute(query.order_by(Mandate.created_at.desc()))).scalars())


async def _record(
    session: AsyncSession, request: Request, mandate: Mandate, action: str, actor: str
) -> None:
    session.add(
        RequestHistory(
            request_id=request.id,
            tenant=request.tenant,
            from_state=request.state,
            to_state=request.state,
            actor=actor,
            note=f"filed by {mandate.mediator_name} for {mandate.citizen_name}",
            at=clock.now(),
            action=action,
            changes={"mandate": {"before": None, "after": mandate.status}},
        )
    )


async def _announce(
    session: AsyncSession, mandate: Mandate, event_type: str, extra: dict[str, Any]
) -> None:
    data = {
        "mandate_id": mandate.id,
        "request_id": mandate.request_id,
        "mediator": mandate.mediator,
        "kind": mandate.kind,
        "status": mandate.status,
        **extra,
    }
    models: dict[str, type[payloads.MandateChanged]] = {
        MANDATE_REQUESTED: payloads.MandateRequested,
        MANDATE_CONFIRMED: payloads.MandateConfirmed,
        MANDATE_REVOKED: payloads.MandateRevoked,
    }
    model = models[event_type]
    event = model.model_validate(data).event(tenant=mandate.tenant, subject=mandate.id)
    await record_event(session, event, aggregate=f"mandate:{mandate.id}")
