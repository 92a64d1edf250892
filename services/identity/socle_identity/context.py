"""What the identity routers and use cases need at run time, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from socle_identity.provider import Provider


@dataclass
class IdentityContext:
    provider: Provider
