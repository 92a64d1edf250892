"""Revoked access tokens, known to every service within seconds.

identity publishes ``token.revoked`` events (subject ``socle.<tenant>.token.revoked``)
whose data names one claim and its value: ``jti`` (one token), ``gid`` (every token issued
from one authorisation code and its refreshes), ``sid`` (a login session) or ``client_id``
(a disabled client, or a secret rotated with revocation). Every service process follows
those events from the bus into an in-memory :class:`DenyList` that :class:`TokenVerifier`
consults on each request. Entries are dropped once every token they could match has
expired. When the bus is down, the access-token lifetime bounds how long a revoked token
keeps working.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import structlog

from socle.events import CloudEvent, MalformedEvent
from socle.eventtypes.identity import TokenRevoked

log = structlog.get_logger("socle.revocation")

REVOCATION_EVENT = "token.revoked"
REVOCATION_SUBJECT = "socle.*.token.revoked"
REVOCABLE_CLAIMS = ("jti", "gid", "sid", "client_id")


@dataclass(frozen=True)
class Revocation:
    tenant: str
    claim: str
    value: str
    issued_before: int
    """Tokens whose ``iat`` is at or before this instant (Unix seconds) are refused."""
    expires_at: int
    """After this instant no token the entry matches is still valid; it is forgotten."""

    @classmethod
    def from_event(cls, event: CloudEvent) -> Revocation | None:
        try:
            data = TokenRevoked.of(event)
        except MalformedEvent:
            return None
        if data.claim not in REVOCABLE_CLAIMS or not data.value:
            return None
        return cls(event.tenant, data.claim, data.value, data.issued_before, data.expires_at)


class DenyList:
    """Revocations in force, keyed by (tenant, claim, value)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], Revocation] = {}
        self._next_prune = 0.0

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, revocation: Revocation) -> None:
        key = (revocation.tenant, revocation.claim, revocation.value)
        known = self._entries.get(key)
        if known is not None:  # keep the wider of the two
            revocation = Revocation(
                revocation.tenant,
                revocation.claim,
                revocation.value,
                max(known.issued_before, revocation.issued_before),
                max(known.expires_at, revocation.expires_at),
            )
        self._entries[key] = revocation
        self._prune()

    def refuses(self, tenant: str, claims: dict[str, Any]) -> bool:
        if not self._entries:
            return False
        iat = claims.get("iat")
        issued = iat if isinstance(iat, int | float) else 0
        now = time.time()
        for claim in REVOCABLE_CLAIMS:
            value = claims.get(claim)
            if not isinstance(value, str):
                continue
            entry = self._entries.get((tenant, claim, value))
            if entry is not None and issued <= entry.issued_before and now < entry.expires_at:
                return True
        return False

    def _prune(self) -> None:
        now = time.time()
        if now < self._next_prune:
            return
        self._next_prune = now + 60.0
        for key in [k for k, e in self._entries.items() if e.expires_at <= now]:
            del self._entries[key]

    async def on_event(self, event: CloudEvent) -> None:
        """Bus handler: record a ``token.revoked`` event (anything else is ignored)."""
        if event.type != REVOCATION_EVENT:
            return
        revocation = Revocation.from_event(event)
        if revocation is None:
            log.warning("revocation_event_malformed", event_id=event.id)
            return
        self.add(revocation)
