"""Request and response bodies of the storage API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

KIND_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
PROCEDURE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


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
    version: int | None = Field(default=None, description="Version to link; default current.")


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
    expires_at: datetime | None = Field(default=None, description="UTC; default never.")


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
    allowed_content_types: list[str] = Field(min_length=1, max_length=50)
    default_retention_days: int = Field(ge=0, le=36500)
    retention_days: dict[str, int] = Field(
        default_factory=dict, description="Days to keep per document kind (0: purge at once)."
    )


class RulesOut(RulesIn):
    tenant: str
    custom: bool = Field(description="False while the tenant uses the service's defaults.")
