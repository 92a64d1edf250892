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
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
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


class Snapshot(Generic[K, V]):
    """A small time-bounded map whose invalidations win over loads in flight."""

    def __init__(self, seconds: float, max_entries: int = MAX_ENTRIES) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self.generation = 0
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        if hit[0] <= time.monotonic():
            self._entries.pop(key, None)
            return None
        return hit[1]

    def put(self, key: K, value: V, generation: int) -> None:
        """Store ``value`` unless something was invalidated since ``generation`` was read."""
        if self.seconds <= 0 or generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            now = time.monotonic()
            self._entries = {k: e for k, e in self._entries.items() if e[0] > now}
            while len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]
        self._entries[key] = (time.monotonic() + self.seconds, value)

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
    def __init__(self, sessions: async_sessionmaker[AsyncSession], seconds: float) -> None:
        self.sessions = sessions
        self.entries: Snapshot[str, CachedClient] = Snapshot(seconds)

    def invalidate(self, client_ids: Iterable[str] | None = None) -> None:
        self.entries.invalidate(client_ids)

    async def get(self, client_id: str) -> CachedClient | None:
        """The client (from memory when fresh), or None when there is no such client."""
        hit = self.entries.get(client_id)
        if hit is not None:
            return hit
        generation = self.entries.generation
        loaded_at = int(time.time())
        async with self.sessions() as session, session.begin():
            await read_only(session)
            client = await session.get(Client, client_id)
            if client is None:
                return None
            revoked_before = await session.scalar(
                select(func.max(TokenRevocation.issued_before)).where(
                    TokenRevocation.claim == "client_id", TokenRevocation.value == client_id
                )
            )
        entry = CachedClient(client, revoked_before, loaded_at)
        self.entries.put(client_id, entry, generation)
        return entry


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
