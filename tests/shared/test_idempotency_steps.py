"""Creates that call another system (``socle.idempotency_steps.Steps``): record, call with no
transaction open, record; a retry replays, waits, or resumes the same attempt."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text

from socle.db import idempotency_table, utcnow
from socle.idempotency import fingerprint
from socle.idempotency_steps import State, Steps, run_in_steps, settle_cut_short
from socle.problems import Conflict, Unavailable


class Remote:
    """Another system and what we record of it: how often each step ran, what it saw."""

    def __init__(self, sessions: Any, fail: Exception | None = None) -> None:
        self.sessions = sessions
        self.fail = fail
        self.recorded: list[str] = []
        self.calls: list[State] = []
        self.finished: list[tuple[State, str]] = []
        self.undone: list[State] = []
        self.open_transactions: list[int] = []

    async def record(self, session: Any) -> State:
        self.recorded.append("once")
        return {"resource": uuid.uuid4().hex}

    async def call(self, state: State) -> str:
        self.calls.append(state)
        async with self.sessions() as session:  # what the database sees meanwhile
            self.open_transactions.append(
                int(
                    await session.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND state LIKE 'idle in transaction%'"
                        )
                    )
                )
            )
        if self.fail is not None:
            raise self.fail
        return f"remote-{state['resource']}"

    async def finish(self, session: Any, state: State, outcome: str) -> Any:
        self.finished.append((state, outcome))
        return 201, {"resource": state["resource"], "remote": outcome}

    async def undo(self, session: Any, state: State) -> None:
        self.undone.append(state)

    def steps(self, **options: Any) -> Steps[str]:
        return Steps(record=self.record, call=self.call, finish=self.finish, **options)


async def test_the_call_runs_with_no_transaction_open_and_a_retry_replays(sessions, tenant):
    remote = Remote(sessions)
    first = await run_in_steps(sessions, scope=tenant, key="k", body={"a": 1}, steps=remote.steps())
    again = await run_in_steps(sessions, scope=tenant, key="k", body={"a": 1}, steps=remote.steps())
    assert first == again and first[0] == 201
    assert remote.open_transactions == [0]
    assert (len(remote.recorded), len(remote.calls), len(remote.finished)) == (1, 1, 1)


async def test_a_failed_call_is_resumed_by_the_retry_with_the_same_state(sessions, tenant):
    remote = Remote(sessions, fail=RuntimeError("connection reset"))
    with pytest.raises(RuntimeError):
        await run_in_steps(sessions, scope=tenant, key="k", body={}, steps=remote.steps())
    remote.fail = None
    status, body = await run_in_steps(
        sessions, scope=tenant, key="k", body={}, steps=remote.steps()
    )
    assert status == 201
    assert len(remote.recorded) == 1  # recorded once, called twice with the same state
    assert remote.calls == [remote.calls[0], remote.calls[0]]
    assert body["resource"] == remote.calls[0]["resource"]


async def test_an_undone_call_forgets_the_key(sessions, tenant):
    remote = Remote(sessions, fail=Unavailable("down", code="remote-down"))
    steps = remote.steps(undo=remote.undo, undo_on=(Unavailable,))
    with pytest.raises(Unavailable):
        await run_in_steps(sessions, scope=tenant, key="k", body={}, steps=steps)
    assert remote.undone == remote.calls
    async with sessions() as session:
        left = await session.scalar(
            select(func.count())
            .select_from(idempotency_table)
            .where(idempotency_table.c.scope == tenant)
        )
    assert left == 0
    remote.fail = None
    assert (await run_in_steps(sessions, scope=tenant, key="k", body={}, steps=steps))[0] == 201
    assert len(remote.recorded) == 2  # a fresh start


async def _held_by_another_process(sessions: Any, tenant: str, until: float) -> State:
    state = {"resource": "theirs"}
    pending = {"holder": "another-process", "attempt": "a1", "until": until, "state": state}
    async with sessions() as session, session.begin():
        await session.execute(
            insert(idempotency_table).values(
                scope=tenant,
                key="k",
                fingerprint=fingerprint({}),
                response=json.dumps({"steps": pending}),
                created_at=utcnow(),
            )
        )
    return state


async def test_an_attempt_running_in_another_process_is_waited_for_then_409(sessions, tenant):
    await _held_by_another_process(sessions, tenant, until=time.time() + 600)
    remote = Remote(sessions)
    with pytest.raises(Conflict) as refused:
        await run_in_steps(sessions, scope=tenant, key="k", body={}, steps=remote.steps(wait=0.2))
    assert refused.value.code == "idempotency-in-progress"
    assert refused.value.headers["Retry-After"]
    assert remote.calls == [] and remote.recorded == []


async def test_an_attempt_of_a_process_gone_past_its_lease_is_resumed(sessions, tenant):
    state = await _held_by_another_process(sessions, tenant, until=time.time() - 1)
    remote = Remote(sessions)
    status, body = await run_in_steps(
        sessions, scope=tenant, key="k", body={}, steps=remote.steps()
    )
    assert (status, body) == (201, {"resource": "theirs", "remote": "remote-theirs"})
    assert remote.recorded == [] and remote.calls == [state]


async def test_a_key_cut_short_ends_with_the_answer_of_whoever_finished_its_work(sessions, tenant):
    remote = Remote(sessions, fail=RuntimeError("connection reset"))
    with pytest.raises(RuntimeError):
        await run_in_steps(sessions, scope=tenant, key="k", body={}, steps=remote.steps())
    [state] = remote.calls

    async def finished_by_the_sweep() -> Any:
        return (201, {"resource": state["resource"], "remote": "by-the-sweep"})

    async with sessions() as session, session.begin():  # a sweep finished the work
        ended = await settle_cut_short(
            session,
            scope_prefix=tenant,
            state=("resource", state["resource"]),
            work=finished_by_the_sweep,
        )
    assert ended == 1
    remote.fail = None
    status, body = await run_in_steps(
        sessions, scope=tenant, key="k", body={}, steps=remote.steps()
    )
    assert (status, body["remote"]) == (201, "by-the-sweep")
    assert len(remote.calls) == 1  # replayed, not resumed


async def test_a_key_cut_short_whose_work_was_undone_is_forgotten(sessions, tenant):
    remote = Remote(sessions, fail=RuntimeError("connection reset"))
    with pytest.raises(RuntimeError):
        await run_in_steps(sessions, scope=tenant, key="k", body={}, steps=remote.steps())
    [state] = remote.calls

    async def undone() -> None:
        return None

    async with sessions() as session, session.begin():
        other = await settle_cut_short(
            session, scope_prefix=tenant, state=("resource", "another"), work=undone
        )
        ended = await settle_cut_short(
            session, scope_prefix=tenant, state=("resource", state["resource"]), work=undone
        )
    assert (other, ended) == (0, 1)
    remote.fail = None
    status, _ = await run_in_steps(sessions, scope=tenant, key="k", body={}, steps=remote.steps())
    assert status == 201
    assert len(remote.recorded) == 2  # a fresh start
