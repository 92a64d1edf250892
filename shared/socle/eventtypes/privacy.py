"""Events of a person's rights across services: erasure and export (see ``socle.privacy``).
They name the person by account id and carry categories and counts, never personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from socle.events import EventData


class Kept(BaseModel):
    """Data of the person a service keeps, and why."""

    category: str = Field(description="What is kept, e.g. ``documents`` or ``payments``.")
    count: int = Field(ge=0)
    reason: Literal["legal_hold", "retention", "legal_retention", "audit"] = Field(
        description="``legal_hold``, ``retention`` (kept until ``until``, then erased), "
        "``legal_retention`` (kept, pseudonymised) or ``audit``."
    )
    until: datetime | None = Field(
        default=None, description="When it will be erased; none when no end is known yet."
    )
    detail: str = Field(default="", description="The rule in a sentence.")


class ErasureOutcome(EventData):
    """What one service did for one erasure (the data of ``person.erased``)."""

    TYPE = "person.erased"
    erasure_id: str = Field(description="The id of the ``user.deleted`` event answered.")
    service: str
    erased: dict[str, int] = Field(
        default_factory=dict, description="Per category, how many records were erased."
    )
    pseudonymised: dict[str, int] = Field(
        default_factory=dict,
        description="Per category, how many records were kept with the person's data "
        "replaced by a pseudonym.",
    )
    kept: list[Kept] = Field(default_factory=list)


class PersonExportRequested(EventData):
    TYPE = "person.export.requested"
    SERVICE = "identity"
    user_id: str = Field(
        min_length=1,
        description="The account whose data is exported. The export's id is the event's id.",
    )


class ExportPart(EventData):
    """One service's answer to an export (the data of ``person.export.ready``): where its
    part lies and how many records of each category it holds; no personal data."""

    TYPE = "person.export.ready"
    export_id: str = Field(description="The id of the ``person.export.requested`` event.")
    service: str
    object: str = Field(description="Where the part lies (a key in the export store).")
    counts: dict[str, int] = Field(default_factory=dict)


EVENTS: tuple[type[EventData], ...] = (ErasureOutcome, PersonExportRequested, ExportPart)
