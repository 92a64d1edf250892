"""Creates that call another system (a payment provider): record, call, record.

:func:`idempotent_post_in_steps` answers like :func:`socle.idempotency.idempotent_post`, but
no transaction stays open across the call (see :class:`Steps`)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from socle.auth import Principal
from socle.db import for_update, idempotency_table, utcnow
from socle.idempotency import (
    Answer,
    answer_of,
    answer_of_row,
    as_json,
    fingerprint,
    idempotency_scope,
    respond,
)
from socle.problems import Conflict

R = TypeVar("R")
State = dict[str, Any]
"""What step (a) hands to steps (b) and (c): JSON, stored with the key so a retry resumes."""

PROCESS = uuid.uuid4().hex
"""This process, as named in the key rows of the attempts it runs."""
_running: set[str] = set()
"""The attempts (ids) this process is running: a key held by this process but by none of
these is abandoned (its request failed or was cancelled) and is resumed at once."""


@dataclass(frozen=True)
class Steps(Generic[R]):
    """A create that calls another system, in three steps so that no transaction (and no
    pooled connection) is held while that system answers:

    (a) ``record(tx)`` runs in the transaction that records the key as in progress, and
        returns the :data:`State` (JSON) the next steps need; it is stored with the key;
    (b) ``call(state)`` runs with no transaction open: the network call. It may run again
        for the same state (a retry after a crash or a failure), so it passes the other
        system an idempotency key derived from the state (the new resource's id);
    (c) ``finish(tx, state, outcome)`` runs in a second transaction, which also records the
        answer under the key.

    While an attempt runs, a retry with the same key waits up to ``wait`` seconds for its
    answer, then gets 409 ``idempotency-in-progress``. An attempt that failed or was cut
    short (its request cancelled, the database gone before (c), the process killed) is
    resumed by the next retry: at once when this process ran it, after ``lease`` seconds
    when another process did (it may still be running there). Work cut short that nobody
    retries is the service's to finish (a sweep); :func:`settle_cut_short` then gives its
    key the answer."""

    record: Callable[[AsyncSession], Awaitable[State]]
    call: Callable[[State], Awaitable[R]]
    finish: Callable[[AsyncSession, State, R], Awaitable[Answer]]
    lease: float = 60.0
    wait: float = 5.0
    undo: Callable[[AsyncSession, State], Awaitable[None]] | None = None
    """When ``call`` raises one of ``undo_on`` (the other system said no, or cannot be
    reached, and did nothing): undo what ``record`` did, in a transaction that also forgets
    the key; the error is the answer and a retry starts afresh."""
    undo_on: tuple[type[Exception], ...] = ()


@dataclass(frozen=True)
class _Claim:
    attempt: str
    state: State


def _pending(attempt: str, lease: float, state: State) -> str:
    held = {"holder": PROCESS, "attempt": attempt, "until": time.time() + lease}
    return json.dumps({"steps": {**held, "state": state}}, default=str)


def _abandoned(pending: dict[str, Any]) -> bool:
    if pending["holder"] == PROCESS:
        return pending["attempt"] not in _running
    return float(pending["until"]) < time.time()


def _key(scope: str, key: str) -> Any:
    return (idempotency_table.c.scope == scope) & (idempotency_table.c.key == key)


def _key_row(scope: str, key: str) -> Any:
    return for_update(select(idempotency_table).where(_key(scope, key)))


async def _claim(
    sessions: async_sessionmaker[AsyncSession],
    scope: str,
    key: str,
    print_: str,
    steps: Steps[Any],
) -> tuple[int, Any] | _Claim | None:
    """In one transaction: the stored answer (replay), a new or resumed attempt (its claim),
    or None while another attempt holds the key."""
    attempt = uuid.uuid4().hex
    inserting = False
    async with sessions() as session:
        try:
            async with session.begin():
                row = (await session.execute(_key_row(scope, key))).first()
                if row is None:
                    inserting = True
                    await session.execute(
                        insert(idempotency_table).values(
                            scope=scope, key=key, fingerprint=print_, created_at=utcnow()
                        )
                    )
                    inserting = False
                    state = await steps.record(session)
                elif row.fingerprint != print_ or row.status_code is not None:
                    return answer_of_row(row, print_)
                else:
                    pending = json.loads(row.response or "{}").get("steps")
                    if pending is None or not _abandoned(pending):
                        return None
                    state = pending["state"]
                _running.add(attempt)  # before the commit: from then on, it is running
                await session.execute(
                    update(idempotency_table)
                    .where(_key(scope, key))
                    .values(response=_pending(attempt, steps.lease, state))
                )
        except IntegrityError:
            _running.discard(attempt)
            if inserting:
                return None  # a concurrent first attempt recorded the key: wait for it
            raise
        except BaseException:
            _running.discard(attempt)
            raise
    return _Claim(attempt, state)


async def _call(
    sessions: async_sessionmaker[AsyncSession],
    scope_key: tuple[str, str] | None,
    state: State,
    steps: Steps[R],
) -> R:
    try:
        return await steps.call(state)
    except steps.undo_on:
        if steps.undo is not None:
            async with sessions() as session, session.begin():
                await steps.undo(session, state)
                if scope_key is not None:
                    scope, key = scope_key
                    await session.execute(delete(idempotency_table).where(_key(scope, key)))
        raise


async def run_in_steps(
    sessions: async_sessionmaker[AsyncSession],
    *,
    scope: str,
    key: str | None,
    body: Any,
    steps: Steps[R],
    status_code: int = 201,
) -> tuple[int, Any]:
    """Run ``steps`` (record, call, finish) under (scope, key); see :class:`Steps`."""
    if key is None:
        async with sessions() as session, session.begin():
            state = await steps.record(session)
        outcome = await _call(sessions, None, state, steps)
        async with sessions() as session, session.begin():
            return answer_of(await steps.finish(session, state, outcome), status_code)
    print_ = fingerprint(body)
    deadline = time.monotonic() + steps.wait
    pause = 0.02
    while True:
        claim = await _claim(sessions, scope, key, print_, steps)
        if isinstance(claim, _Claim):
            break
        if claim is not None:
            return claim
        if time.monotonic() >= deadline:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed; retry in a "
                "moment with the same key.",
                code="idempotency-in-progress",
                headers={"Retry-After": "1"},
            )
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.5)
    try:
        outcome = await _call(sessions, (scope, key), claim.state, steps)
        async with sessions() as session, session.begin():
            row = (await session.execute(_key_row(scope, key))).one()
            if row.status_code is not None:  # another process resumed it and finished first
                return int(row.status_code), json.loads(row.response)
            status, result = answer_of(
                await steps.finish(session, claim.state, outcome), status_code
            )
            await session.execute(
                update(idempotency_table)
                .where(_key(scope, key))
                .values(status_code=status, response=json.dumps(result, default=str))
            )
            return status, result
    finally:
        _running.discard(claim.attempt)


async def idempotent_post_in_steps(
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    *,
    service: str,
    action: str,
    key: str | None,
    body: BaseModel | dict[str, Any] | list[Any],
    steps: Steps[R],
    status_code: int = 201,
) -> JSONResponse:
    """:func:`idempotent_post` for a create that calls another system: ``steps`` record,
    call with no transaction open, then record the outcome and the answer (see
    :class:`Steps`). Same keys, same replay, 422 and 409 as :func:`idempotent_post`."""
    status, result = await run_in_steps(
        sessions,
        scope=idempotency_scope(principal, service, action),
        key=key,
        body=as_json(body) if isinstance(body, BaseModel) else body,
        steps=steps,
        status_code=status_code,
    )
    return respond(status, result)


async def settle_cut_short(
    session: AsyncSession,
    *,
    scope_prefix: str,
    state: tuple[str, str],
    work: Callable[[], Awaitable[Answer | None]],
    status_code: int = 201,
) -> int:
    """In the caller's transaction: record work cut short that something else (a sweep)
    finished, and end the keys of its attempts. The keys (scope starting with
    ``scope_prefix``) whose :data:`State` holds ``name: value`` (``state``) are locked, then
    ``work()`` records the work and returns the answer the request would have given: they
    end with it, and a retry replays it. With None (the work was undone) they are forgotten,
    so that a retry starts afresh; a key whose attempt still runs is then left to it.
    Returns how many keys it ended.

    The keys are locked before ``work`` locks the rows it changes: the order of a retry's
    attempt, which holds its key while ``finish`` locks those rows. In the other order, a
    sweep and a retry finishing the same work at once deadlock.

    An attempt records no link from its rows to its key: the in-progress keys are searched
    for the state (a scan of the keys still in progress, meant for rare work)."""
    name, value = state
    written = json.dumps({name: value})[1:-1]  # as _pending stored it (json.dumps's format)
    rows = await session.execute(
        select(idempotency_table)
        .where(
            idempotency_table.c.status_code.is_(None),
            idempotency_table.c.scope.startswith(scope_prefix, autoescape=True),
            idempotency_table.c.response.contains(written, autoescape=True),
        )
        .with_for_update()
    )
    keys = [
        (row.id, pending)
        for row in rows
        if (pending := json.loads(row.response or "{}").get("steps")) is not None
        and pending["state"].get(name) == value
    ]
    answer = await work()
    ended = 0
    for key_id, pending in keys:
        where = idempotency_table.c.id == key_id
        if answer is None:
            if not _abandoned(pending):
                continue
            await session.execute(delete(idempotency_table).where(where))
        else:
            status, result = answer_of(answer, status_code)
            await session.execute(
                update(idempotency_table)
                .where(where)
                .values(status_code=status, response=json.dumps(result, default=str))
            )
        ended += 1
    return ended
