"""``Idempotency-Key`` for POST endpoints: one execution, the same answer on replay.

A route that creates something takes ``key: IdempotencyKey = None`` and answers with
:func:`idempotent_post`, which scopes the key (:func:`idempotency_scope`), opens the session
and the one transaction the use case runs in, and replays the stored answer, with its status,
for the same key and body: the router hands it the context's sessions, never a session.

A create that calls another system (a payment provider) uses
:func:`socle.idempotency_steps.idempotent_post_in_steps` instead: no transaction stays open
across the call."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.auth import Principal
from socle.db import idempotency_table, utcnow
from socle.problems import PROBLEM_JSON, BadRequest, Conflict, Unprocessable


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=255,
            description="Same key and same body replay the first answer; another body is 422. "
            "Must not be empty.",
        ),
    ] = None,
) -> str | None:
    """The request's ``Idempotency-Key``; an empty one is refused rather than shared."""
    if key is not None and not key.strip():
        raise BadRequest(
            "The Idempotency-Key header is empty; send a unique value (a UUID) per request, "
            "or leave the header out.",
            code="idempotency-key-empty",
        )
    return key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]

Action = Callable[[AsyncSession], Awaitable[tuple[int, Any]]]


def idempotency_scope(principal: Principal, service: str, action: str) -> str:
    """Keys are the tenant's for the commune (staff, services), each person's own for a
    person: one person's key never replays another person's answer."""
    who = "" if principal.owner is None else f":person:{principal.owner}"
    return f"{service}:{principal.tenant}{who}:{action}"


LEGACY_SCOPES: Mapping[tuple[str, str], str] = {
    ("identity", "tenants"): "{tenant}:tenants",
    ("identity", "clients"): "{tenant}:clients",
    ("identity", "users"): "{tenant}:users",
    ("notify", "notifications:email"): "notifications:{tenant}:email",
    ("notify", "notifications:sms"): "notifications:{tenant}:sms",
    ("notify", "batches"): "batches:{tenant}",
    ("notify", "rules"): "rules:{tenant}",
    ("notify", "subscriptions"): "subscriptions:{tenant}",
    ("notify", "templates"): "templates:{tenant}",
    ("procedures", "procedures:create"): "procedures:{tenant}:create",
}
"""The scope each ``(service, action)`` stored its keys under before it was scoped by
:func:`idempotency_scope` (always the tenant's: no create of these is a person's). A retry
with a key stored that way, by a release before the change or by one still running during a
rolling upgrade, replays its answer instead of running again. Keys are pruned after a day
(:mod:`socle.pruning`): an entry can go once no release writing it runs any more."""


def legacy_scope(principal: Principal, service: str, action: str) -> str | None:
    """The scope :data:`LEGACY_SCOPES` gives this caller's key, if any."""
    template = LEGACY_SCOPES.get((service, action))
    if template is None or principal.owner is not None:
        return None
    return template.format(tenant=principal.tenant)


def fingerprint(body: Any) -> str:
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


async def stored_answer(
    session: AsyncSession, scopes: list[str], key: str, print_: str
) -> tuple[int, Any] | None:
    """The answer stored for ``key`` under the first of ``scopes`` that has it."""
    rows = (
        await session.execute(
            select(idempotency_table).where(
                idempotency_table.c.scope.in_(scopes), idempotency_table.c.key == key
            )
        )
    ).all()
    row = min(rows, key=lambda r: scopes.index(r.scope), default=None)
    return None if row is None else answer_of_row(row, print_)


def answer_of_row(row: Any, print_: str) -> tuple[int, Any]:
    """What a stored key ``row`` answers a request of fingerprint ``print_``: its first
    answer (replay), 422 for another body, 409 while its first request is still running."""
    if row.fingerprint != print_:
        raise Unprocessable(
            "This Idempotency-Key was already used with a different request body; "
            "use a new key for a new request.",
            code="idempotency-key-reused",
        )
    if row.status_code is None:
        raise Conflict(
            "A request with this Idempotency-Key is still being processed; retry in a moment.",
            code="idempotency-in-progress",
        )
    return int(row.status_code), json.loads(row.response)


async def run_idempotent(
    session: AsyncSession,
    *,
    scope: str,
    key: str | None,
    body: Any,
    action: Action,
    legacy_scope: str | None = None,
) -> tuple[int, Any]:
    """Run ``action`` in one transaction, recording its answer under (scope, key).

    The key row is inserted first, inside the same transaction: a concurrent duplicate waits
    on the unique index, then finds the committed answer and replays it. ``action`` returns
    ``(status_code, json_body)``. An answer stored under ``legacy_scope`` (the key's scope in
    an earlier release) is replayed too.
    """
    if key is None:
        async with session.begin():
            return await action(session)
    print_ = fingerprint(body)
    scopes = [scope] if legacy_scope is None else [scope, legacy_scope]
    async with session.begin():
        replayed = await stored_answer(session, scopes, key, print_)
        if replayed is not None:
            return replayed
    try:
        async with session.begin():
            await session.execute(
                insert(idempotency_table).values(
                    scope=scope, key=key, fingerprint=print_, created_at=utcnow()
                )
            )
            status, result = await action(session)
            await session.execute(
                update(idempotency_table)
                .where(idempotency_table.c.scope == scope, idempotency_table.c.key == key)
                .values(status_code=status, response=json.dumps(result, default=str))
            )
            return status, result
    except IntegrityError:
        async with session.begin():
            replayed = await stored_answer(session, scopes, key, print_)
        if replayed is None:
            raise
        return replayed


Answer = BaseModel | tuple[int, BaseModel | dict[str, Any]]
"""What a create gives :func:`idempotent_post`: the created resource (answered with the
route's ``status_code``), or ``(status, body)`` for another answer (a problem body for 4xx)."""


def as_json(body: BaseModel | dict[str, Any]) -> Any:
    return body.model_dump(mode="json") if isinstance(body, BaseModel) else body


async def idempotent_post(
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    *,
    service: str,
    action: str,
    key: str | None,
    body: BaseModel | dict[str, Any] | list[Any],
    create: Callable[[AsyncSession], Awaitable[Answer]],
    status_code: int = 201,
) -> JSONResponse:
    """Answer an idempotent create: ``create`` runs in one transaction, opened here on a new
    session from ``sessions`` (the service context's), under the key
    ``(idempotency_scope(principal, service, action), key)``; the same key with the same
    ``body`` (the request's fingerprint) replays the first answer with its status, another
    body is 422 ``idempotency-key-reused``, a key still running is 409. A key stored under the
    action's scope of an earlier release (:data:`LEGACY_SCOPES`) replays too."""

    async def run(tx: AsyncSession) -> tuple[int, Any]:
        return answer_of(await create(tx), status_code)

    async with sessions() as session:
        status, result = await run_idempotent(
            session,
            scope=idempotency_scope(principal, service, action),
            key=key,
            body=as_json(body) if isinstance(body, BaseModel) else body,
            action=run,
            legacy_scope=legacy_scope(principal, service, action),
        )
    return respond(status, result)


def respond(status: int, result: Any) -> JSONResponse:
    media = PROBLEM_JSON if status >= 400 else "application/json"
    return JSONResponse(result, status_code=status, media_type=media)


def answer_of(answer: Answer, route_status: int) -> tuple[int, Any]:
    if isinstance(answer, BaseModel):
        return route_status, as_json(answer)
    status, result = answer
    return status, as_json(result)
