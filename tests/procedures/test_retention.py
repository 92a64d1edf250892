"""Retention of requests per commune and procedure: an admin sets it (``procedures:admin``);
the sweep anonymises the closed requests past it and keeps the recent ones, those still
under way, those of a procedure that declares a longer retention of its own and those under
legal hold; an erasure leaves a held request as it is until the hold is lifted."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from socle.db import utcnow
from socle.privacy import ErasureRequest
from socle_procedures import privacy, retention
from socle_procedures.models import ProcedureVersion, Request


async def _procedure(app: Any, tenant: str, slug: str, retention_days: int | None) -> str:
    document: dict[str, Any] = {"slug": slug, "title": {"en": slug}, "steps": []}
    if retention_days is not None:
        document["retention_days"] = retention_days
    now = utcnow()
    version = ProcedureVersion(
        id=uuid.uuid4().hex,
        tenant=tenant,
        slug=slug,
        version=1,
        status="published",
        document=document,
        created_at=now,
        published_at=now,
    )
    async with app.state.runtime.sessions() as session, session.begin():
        session.add(version)
    return version.id


async def _request(app: Any, tenant: str, version_id: str, slug: str, state: str, age: int) -> str:
    at = utcnow() - timedelta(days=age)
    row = Request(
        id=uuid.uuid4().hex,
        tenant=tenant,
        owner="anna-subject",
        version_id=version_id,
        procedure=slug,
        version=1,
        state=state,
        answers={"name": "Anna Muster"},
        completed_steps=[],
        reference=f"R-{uuid.uuid4().hex[:8]}",
        locale="fr",
        email="anna@example.ch",
        created_at=at,
        updated_at=at,
        submitted_at=at,
    )
    async with app.state.runtime.sessions() as session, session.begin():
        session.add(row)
    return row.id


async def test_closed_requests_past_their_retention_are_anonymised(platform):
    app, tenant, api = platform.app, platform.tenant, platform.api
    refused = await api.put("/v1/retention", headers=platform.auth(), json={"days": {}})
    assert refused.status_code == 403
    wrong = await api.put(
        "/v1/retention", headers=platform.admin(), json={"days": {"payments": 30}}
    )
    assert wrong.status_code == 422
    put = await api.put(
        "/v1/retention",
        headers=platform.admin(),
        json={"days": {"requests": 30, "requests:dog": 60}},
    )
    assert put.status_code == 200, put.text
    shown = await api.get("/v1/retention", headers=platform.admin())
    assert shown.json() == {
        "days": {"requests": 30, "requests:dog": 60},
        "defaults": {"requests": None},
    }

    dog = await _procedure(app, tenant, "dog", None)  # the commune's 60 days
    tax = await _procedure(app, tenant, "tax", 365)  # its own 365 days win over 30
    bin_ = await _procedure(app, tenant, "bin", None)  # the commune's 30 days
    rows = {
        "dog_old": await _request(app, tenant, dog, "dog", "approved", 70),
        "dog_recent": await _request(app, tenant, dog, "dog", "approved", 40),
        "dog_under_way": await _request(app, tenant, dog, "dog", "in_review", 70),
        "tax_old": await _request(app, tenant, tax, "tax", "rejected", 40),
        "bin_old": await _request(app, tenant, bin_, "bin", "withdrawn", 40),
        "dog_held": await _request(app, tenant, dog, "dog", "approved", 70),
    }
    hold = await api.put(
        f"/v1/legal-holds/requests/{rows['dog_held']}",
        headers=platform.admin(),
        json={"reason": "appeal 3/2026"},
    )
    assert hold.status_code == 200, hold.text
    unknown = await api.put(
        "/v1/legal-holds/requests/nope", headers=platform.admin(), json={"reason": "x"}
    )
    assert unknown.status_code == 404
    settings = app.state.runtime.settings
    assert await retention.purge_once(app.state.runtime.sessions, settings) == 2
    async with app.state.runtime.sessions() as session:
        state = {name: await session.get(Request, key) for name, key in rows.items()}
    anonymised = {name for name, row in state.items() if row.owner.startswith("erased-")}
    assert anonymised == {"dog_old", "bin_old"}
    assert state["dog_old"].answers == {} and state["dog_old"].email is None
    assert state["dog_old"].state == "approved" and state["dog_old"].reference
    assert state["dog_recent"].answers == {"name": "Anna Muster"}
    assert await retention.purge_once(app.state.runtime.sessions, settings) == 0


async def test_an_erasure_leaves_a_held_request_as_it_is_until_the_hold_is_lifted(platform):
    app, tenant, api = platform.app, platform.tenant, platform.api
    sessions = app.state.runtime.sessions
    dog = await _procedure(app, tenant, "dog", None)
    free = await _request(app, tenant, dog, "dog", "submitted", 2)
    held = await _request(app, tenant, dog, "dog", "submitted", 2)
    hold = await api.put(
        f"/v1/legal-holds/requests/{held}", headers=platform.admin(), json={"reason": "appeal"}
    )
    assert hold.status_code == 200, hold.text
    asked = ErasureRequest(erasure_id=uuid.uuid4().hex, tenant=tenant, user_id="anna-subject")
    async with sessions() as session, session.begin():
        outcome = await privacy.erase_person(session, asked)
    assert outcome.pseudonymised == {"requests": 1}
    assert [(k.reason, k.count) for k in outcome.kept] == [("legal_hold", 1)]
    async with sessions() as session:
        done = await session.get(Request, free)
        kept = await session.get(Request, held)
    assert done.owner.startswith("erased-") and done.answers == {}
    assert kept.owner == "anna-subject" and kept.answers == {"name": "Anna Muster"}
    assert kept.email == "anna@example.ch" and kept.erasure_requested_at is not None
    assert await privacy.anonymise_due(sessions) == 0  # still held
    lifted = await api.delete(f"/v1/legal-holds/requests/{held}", headers=platform.admin())
    assert lifted.status_code == 204
    assert await privacy.anonymise_due(sessions) == 1
    async with sessions() as session:
        released = await session.get(Request, held)
    assert released.owner.startswith("erased-") and released.answers == {}
    assert released.email is None and released.state == "submitted"
