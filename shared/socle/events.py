"""CloudEvents 1.0 (structured JSON mode), as every Socle event travels."""

from __future__ import annotations

import functools
import json
import uuid
from datetime import datetime
from importlib import resources
from typing import Any, ClassVar, Generic, Self, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


D = TypeVar("D")


class Event(BaseModel, Generic[D]):
    """A CloudEvent with the Socle extension ``tenant``; ``type`` is ``<noun>.<what>``;
    ``data`` is the payload: an :class:`EventData` model, or a plain dict on the wire."""

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
    data: D

    @property
    def nats_subject(self) -> str:
        """``socle.<tenant>.<service>.<event>``, e.g. ``socle.vevey.payment.succeeded``."""
        return f"socle.{self.tenant}.{self.type}"

    def to_bytes(self) -> bytes:
        """Structured JSON without the envelope's absent attributes; a payload model's
        fields all written, except an optional one its producer left out (absent, not null)."""
        data = self.data
        if not isinstance(data, EventData):  # a dict: its nulls stay (exclude_none spares them)
            return self.model_dump_json(exclude_none=True).encode()
        body = self.model_dump(mode="json", exclude={"data"}, exclude_none=True)
        body["data"] = data.wire()
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class CloudEvent(Event[dict[str, Any]]):
    """An event as it travels: its payload not yet read into a model (see
    :meth:`EventData.of`)."""

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

    @classmethod
    def from_bytes(cls, raw: bytes) -> CloudEvent:
        return cls.model_validate(json.loads(raw))


class MalformedEvent(ValueError):
    """An event whose type or data does not match the payload model it was read with."""


class EventData(BaseModel):
    """The payload of one event type (``TYPE``), published by ``SERVICE``; the catalogue's
    schema of its ``data`` is generated from the model (``make events-catalogue``).

    Fields a consumer does not know are ignored: a producer may add a field (a new minor
    version) without breaking consumers; removing or changing one is a new ``VERSION``."""

    model_config = ConfigDict(extra="ignore")

    TYPE: ClassVar[str]
    SERVICE: ClassVar[str] = ""
    """The producer; empty when several services publish the type (give ``service=``)."""
    VERSION: ClassVar[int] = 1

    def event(
        self, *, tenant: str, subject: str | None = None, service: str | None = None
    ) -> Event[Self]:
        """This payload in its envelope, ready for :func:`socle.outbox.record_event`."""
        producer = service or self.SERVICE
        if not producer:
            raise ValueError(f"{self.TYPE} is published by several services: name one")
        envelope: Any = _envelope(type(self))
        typed: Event[Self] = envelope(
            source=f"/socle/{producer}",
            type=self.TYPE,
            tenant=tenant,
            subject=subject,
            data=self,
            dataschema=f"{SCHEMA_BASE}{self.TYPE}/v{self.VERSION}",
        )
        return typed

    def wire(self) -> dict[str, Any]:
        """The payload as JSON: every field, except an optional one left out (absent, not
        null, on the wire)."""
        body = self.model_dump(mode="json")
        for name in type(self).model_fields:
            if name not in self.model_fields_set and body.get(name) is None:
                body.pop(name, None)
        return body

    @classmethod
    def of(cls, event: Event[Any]) -> Self:
        """The payload of ``event`` read into this model; :class:`MalformedEvent` when the
        event is of another type or its data does not fit."""
        if event.type != cls.TYPE:
            raise MalformedEvent(f"{event.type} is not {cls.TYPE}")
        data = event.data
        try:
            if isinstance(data, cls):
                return data
            if isinstance(data, EventData):
                data = data.wire()
            return cls.model_validate(data)
        except ValidationError as exc:
            raise MalformedEvent(f"{cls.TYPE} {event.id}: {exc.error_count()} bad fields") from exc


@functools.cache
def _envelope(data: type[EventData]) -> Any:
    """``Event[data]``, parametrised once: pydantic keeps its parametrised models only weakly,
    so each event would otherwise build its envelope model anew."""
    return Event[data]  # type: ignore[valid-type]
