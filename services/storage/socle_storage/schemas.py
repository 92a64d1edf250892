"""Request and response bodies of the storage API."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from socle.types import UTCInstant

KIND_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
PROCEDURE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
#: A bare media type (RFC 6838 names, no parameters), as the sniffer gives: ``image/png``.
MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
MAX_VERSION = 2**31 - 1
MAX_RETENTION_DAYS = 36500


def media_type(value: str) -> str:
    """``value`` trimmed and lower-cased; a ValueError (422) unless it is a bare media type."""
    normal = value.strip().lower()
    if not MEDIA_TYPE.match(normal):
        raise ValueError(
            f"{value[:80]!r} is not a media type such as application/pdf (type/subtype, "
            "no parameters)"
        )
    return normal


MediaType = Annotated[str, Field(max_length=255), AfterValidator(media_type)]
VersionNumber = Annotated[int, Field(ge=1, le=MAX_VERSION)]


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    filename: str = Field(description="The sent file name, sanitised.")
    content_type: str = Field(description="The type sniffed from the bytes.")
    size: int = Field(description="Size in bytes of the current version.")
    sha256: str = Field(description="Hex SHA-256 of the current version.")
    kind: str
    owner: str | None
    procedure: str | None
    version: int = Field(description="Number of the current version (1 for the first upload).")
    status: Literal["active", "quarantined", "deleted"]
    legal_hold: bool
    created_at: datetime
    updated_at: datetime
    retention_until: datetime | None
    deleted_at: datetime | None


class DocumentPage(BaseModel):
    items: list[DocumentOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    filename: str
    content_type: str
    size: int
    sha256: str
    status: Literal["active", "quarantined"]
    created_at: datetime


class VersionList(BaseModel):
    items: list[VersionOut]


class LinkIn(BaseModel):
    version: VersionNumber | None = Field(
        default=None, description="Version to link; default current."
    )


class LinkOut(BaseModel):
    url: str = Field(description="Presigned GET on the store; anyone holding it can download.")
    expires_at: datetime
    version: int


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grantee_type: Literal["procedure", "agents"] = Field(
        description=(
            "`procedure`: the procedure named in `procedure`; `agents`: the commune's agents."
        )
    )
    procedure: str | None = Field(default=None, pattern=PROCEDURE_PATTERN)
    expires_at: UTCInstant | None = Field(
        default=None, description="With its time zone (none is a 422); default never."
    )


class GrantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    document_id: str
    grantee_type: Literal["procedure", "agents"]
    procedure: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    active: bool


class GrantList(BaseModel):
    items: list[GrantOut]


class AccessOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    action: Literal["content", "link"]
    version: int
    subject: str = Field(description="`sub` of the token that read the content.")
    client_id: str
    roles: list[str]


class AccessPage(BaseModel):
    items: list[AccessOut]
    next_cursor: str | None


class LegalHoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hold: bool
    reason: str | None = Field(default=None, max_length=500)


class RulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_size_bytes: int = Field(gt=0, le=5 * 1024**4)
    allowed_content_types: list[MediaType] = Field(
        min_length=1,
        max_length=50,
        description="Bare media types (`application/pdf`); an empty or malformed one is a 422.",
    )
    default_retention_days: int = Field(ge=0, le=MAX_RETENTION_DAYS)
    retention_days: dict[str, Annotated[int, Field(ge=0, le=MAX_RETENTION_DAYS)]] = Field(
        default_factory=dict,
        max_length=200,
        description="Days to keep per document kind (0: purge at once; at most 36500).",
    )


class RulesOut(BaseModel):
    max_size_bytes: int
    allowed_content_types: list[str]
    default_retention_days: int
    retention_days: dict[str, int]
    tenant: str
    custom: bool = Field(description="False while the tenant uses the service's defaults.")
