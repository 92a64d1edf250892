"""CloudEvents 1.0 (structured JSON mode), as every Socle event travels."""

from __future__ import annotations

import functools
import json
import uuid
from datetime import datetime
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from socle.db import utcnow

SCHEMA_BASE = "https://socle.swiss/schemas/events/"
CATALOGUE = "events.asyncapi.yaml"
"""Every event type of the platform, described in AsyncAPI 3 (``docs/events.asyncapi.yaml``
links to it); shipped with socle so services can check names against it."""


@functools.cache
def documented_event_types() -> frozenset[str]:
    """The ``name`` of every message in the events catalogue."""
    text = resources.files("socle").joinpath(CATALOGUE).read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    messages = document.get("components", {}).get("messages", {})
    return frozenset(str(m["name"]) for m in messages.values() if "name" in m)


class CloudEvent(BaseModel):
    """A CloudEvent with the Socle extension ``tenant``; ``type`` is ``<service>.<what>``."""

    model_config = ConfigDict(extra="allow")

    specversion: str = "1.0"
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    source: str
    type: str
    subject: str | None = None
    time: datetime = Field(default_factory=utcnow)
    datacontenttype: str = "application/json"
    dataschema: str | None = None
    tenant: str
    data: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def new(
        cls,
        *,
        service: str,
        type: str,
        tenant: str,
        data: dict[str, Any],
        subject: str | None = None,
        version: int = 1,
    ) -> CloudEvent:
        return cls(
            source=f"/socle/{service}",
            type=type,
            tenant=tenant,
            subject=subject,
            data=data,
            dataschema=f"{SCHEMA_BASE}{type}/v{version}",
        )

    @property
    def nats_subject(self) -> str:
        """``socle.<tenant>.<service>.<event>``, e.g. ``socle.vevey.payment.succeeded``."""
        return f"socle.{self.tenant}.{self.type}"

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> CloudEvent:
        return cls.model_validate(json.loads(raw))
