"""What the token endpoint keeps in memory: client records and the active signing keys, for a
few seconds (``SOCLE_CACHE_SECONDS``).

Staleness is bounded three ways:

- in this process, a committed change to a client or a signing key drops what is cached
  (session hooks on the service's sessions), so a disabled or deleted client, a rotated
  secret or a rotated key takes effect with the next request;
- in other processes, a ``token.revoked`` event naming the client (published when it is
  disabled, deleted or re-keyed with revocation) drops their copy as soon as they see it;
- in any case an entry lives at most ``SOCLE_CACHE_SECONDS``.

A load racing with an invalidation is not stored (generation counter): a read that began
before a change cannot put the old state back.

Many clients: the clients missed during one turn of the event loop are read together, in one
transaction. Clients asked for in the last ``IDLE_TIMES`` x ``SOCLE_CACHE_SECONDS`` are read
again before their time is up, up to :data:`REFRESH_BATCH` in one query
(:meth:`ClientCache.refresh_due`, a background loop every quarter of ``SOCLE_CACHE_SECONDS``),
so a process serving thousands of clients does not read each alone as its entry expires. An
entry is never older than ``SOCLE_CACHE_SECONDS``; the others leave memory when their time is
up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from socle.db import read_only
from socle_identity.models import Client, SigningKey, TokenRevocation

K = TypeVar("K")
V = TypeVar("V")

MAX_ENTRIES = 20_000
REFRESH_BATCH = 500
"""Clients read again in one query at most."""
IDLE_TIMES = 6
"""A client not asked for in this many times ``SOCLE_CACHE_SECONDS`` is no longer read again
ahead of time: it leaves memory when its time is up."""


class Snapshot(Generic[K, V]):
    """A small time-bounded map whose invalidations win over loads in flight. Every entry
    lives ``seconds``, so the order of insertion is the order of expiry: expired entries are
    dropped from the front as new ones come, and when ``max_entries`` are fresh the oldest
    goes first."""

    def __init__(
        self,
        seconds: float,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self.clock = clock
        self.generation = 0
        self._entries: dict[K, tuple[float, V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, key: K) -> tuple[float, V] | None:
        """The value with the time (of ``clock``) at which it expires, if still fresh."""
        hit = self._entries.get(key)
        if hit is None:
            return None
        if hit[0] <= self.clock():
            self._entries.pop(key, None)
            return None
        return hit

    def get(self, key: K) -> V | None:
        hit = self.entry(key)
        return None if hit is None else hit[1]

    def put(self, key: K, value: V, generation: int) -> None:
        """Store ``value`` unless something was invalidated since ``generation`` was read."""
        if self.seconds <= 0 or generation != self.generation:
            return
        now = self.clock()
        entries = self._entries
        entries.pop(key, None)  # stored again last: the order stays the order of expiry
        while entries:
            oldest = next(iter(entries))
            if entries[oldest][0] > now and len(entries) < self.max_entries:
                break
            del entries[oldest]
        entries[key] = (now + self.seconds, value)

    def by_expiry(self) -> Iterator[tuple[K, float]]:
        """Keys with the time they expire at, the soonest first (change nothing meanwhile)."""
        return ((key, entry[0]) for key, entry in self._entries.items())

    def invalidate(self, keys: Iterable[K] | None = None) -> None:
        self.generation += 1
        if keys is None:
            self._entries.clear()
        else:
            for key in keys:
                self._entries.pop(key, None)


@dataclass(frozen=True)
class CachedClient:
    client: Client
    """Detached: read its attributes, never change them."""
    revoked_before: int | None
    """The latest ``issued_before`` of a revocation of this client's tokens."""
    loaded_at: int
    """When it was read (Unix seconds)."""


class ClientCache:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.entries: Snapshot[str, CachedClient] = Snapshot(seconds, clock=clock)
        self.used: dict[str, float] = {}
        """When each client in memory was last asked for (``clock``)."""
        self._waiting: dict[str, asyncio.Future[CachedClient | None]] | None = None
        """The clients missed in this turn of the event loop, and their requests' answers."""
        self._readers: set[asyncio.Task[None]] = set()

    @property
    def refresh_every(self) -> float:
        """Seconds between two passes of :meth:`refresh_due` (0: no refreshing)."""
        return self.entries.seconds / 4

    def invalidate(self, client_ids: Iterable[str] | None = None) -> None:
        self.entries.invalidate(client_ids)

    async def get(self, client_id: str) -> CachedClient | None:
        """The client (from memory when fresh), or None when there is no such client."""
        hit = self.entries.entry(client_id)
        if hit is not None:
            self.used[client_id] = self.entries.clock()
            return hit[1]
        if self.entries.seconds <= 0:
            return (await self._load([client_id])).get(client_id)
        waiting = self._waiting
        if waiting is None:  # the first miss of this turn of the event loop reads for all
            waiting = self._waiting = {}
            reader = asyncio.get_running_loop().create_task(self._read_waiting())
            self._readers.add(reader)
            reader.add_done_callback(self._readers.discard)
        answer = waiting.get(client_id)
        if answer is None:
            answer = waiting[client_id] = asyncio.get_running_loop().create_future()
        # shielded: a request that goes away does not take the others' answer with it
        return await asyncio.shield(answer)

    async def _read_waiting(self) -> None:
        """Read the clients missed since this task was created, in one transaction each
        REFRESH_BATCH, and answer their requests."""
        waiting, self._waiting = self._waiting or {}, None
        ids = list(waiting)
        for start in range(0, len(ids), REFRESH_BATCH):
            batch = ids[start : start + REFRESH_BATCH]
            generation = self.entries.generation
            try:
                loaded = await self._load(batch)
            except asyncio.CancelledError:
                for client_id in ids[start:]:
                    waiting[client_id].cancel()
                raise
            except Exception as exc:  # each request fails as its own read would have
                for client_id in ids[start:]:
                    waiting[client_id].set_exception(exc)
                return
            for client_id in batch:
                entry = loaded.get(client_id)
                if entry is not None:
                    self.entries.put(client_id, entry, generation)
                    self.used[client_id] = self.entries.clock()
                waiting[client_id].set_result(entry)

    async def refresh_due(self) -> int:
        """Read again, in one transaction, up to REFRESH_BATCH of the clients in memory that
        would expire before the pass after next is half done (passes come every
        ``refresh_every``) and were asked for in the last IDLE_TIMES x ``SOCLE_CACHE_SECONDS``;
        how many. Each client in use is read about every three quarters of
        ``SOCLE_CACHE_SECONDS``."""
        now = self.entries.clock()
        recent = now - IDLE_TIMES * self.entries.seconds
        batch: list[str] = []
        for client_id, expires in self.entries.by_expiry():
            if expires > now + 1.5 * self.refresh_every or len(batch) == REFRESH_BATCH:
                break
            if self.used.get(client_id, recent) > recent:
                batch.append(client_id)
            else:  # idle: left to expire
                self.used.pop(client_id, None)
        if len(self.used) > 2 * self.entries.max_entries:  # clients dropped meanwhile
            self.used = {k: t for k, t in self.used.items() if self.entries.entry(k)}
        if not batch:
            return 0
        generation = self.entries.generation
        loaded = await self._load(batch)
        for client_id, entry in loaded.items():
            self.entries.put(client_id, entry, generation)
        gone = [client_id for client_id in batch if client_id not in loaded]
        if gone:
            self.invalidate(gone)
        return len(batch)

    async def _load(self, client_ids: list[str]) -> dict[str, CachedClient]:
        loaded_at = int(time.time())
        async with self.sessions() as session, session.begin():
            await read_only(session)
            if len(client_ids) == 1:
                client = await session.get(Client, client_ids[0])
                clients = [] if client is None else [client]
            else:
                clients = list(
                    await session.scalars(select(Client).where(Client.client_id.in_(client_ids)))
                )
            if not clients:
                return {}
            rows = await session.execute(
                select(TokenRevocation.value, func.max(TokenRevocation.issued_before))
                .where(
                    TokenRevocation.claim == "client_id",
                    TokenRevocation.value.in_([c.client_id for c in clients]),
                )
                .group_by(TokenRevocation.value)
            )
            revoked: dict[str, int | None] = {value: before for value, before in rows.tuples()}
        return {c.client_id: CachedClient(c, revoked.get(c.client_id), loaded_at) for c in clients}


PENDING = "socle_identity_cache_changes"


def watch_changes(
    sessions: async_sessionmaker[AsyncSession],
    on_clients: Callable[[set[str]], None],
    on_keys: Callable[[], None],
) -> None:
    """Call ``on_clients`` with the ids of clients changed, and ``on_keys`` when signing keys
    changed, after each commit of a session of ``sessions``."""
    session_class: Any = sessions.kw.get("sync_session_class", Session)

    @event.listens_for(session_class, "after_flush")
    def _collect(session: Session, _context: Any) -> None:
        changed: dict[str, Any] = session.info.setdefault(PENDING, {"clients": set()})
        for obj in (*session.new, *session.dirty, *session.deleted):
            if isinstance(obj, Client):
                changed["clients"].add(obj.client_id)
            elif isinstance(obj, SigningKey):
                changed["keys"] = True

    @event.listens_for(session_class, "after_commit")
    def _apply(session: Session) -> None:
        changed = session.info.pop(PENDING, None)
        if changed is None:
            return
        if changed["clients"]:
            on_clients(changed["clients"])
        if changed.get("keys"):
            on_keys()

    @event.listens_for(session_class, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(PENDING, None)
