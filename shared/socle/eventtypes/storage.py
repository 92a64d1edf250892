"""Events of the storage service: a document's life."""

from __future__ import annotations

from datetime import datetime

from socle.events import EventData


class DocumentEvent(EventData):
    SERVICE = "storage"
    document_id: str
    kind: str
    owner: str | None
    procedure: str | None


class DocumentUploaded(DocumentEvent):
    TYPE = "document.uploaded"
    version: int
    content_type: str
    size: int
    sha256: str
    retention_until: datetime | None


class DocumentQuarantined(DocumentEvent):
    TYPE = "document.quarantined"
    version: int
    signature: str


class DocumentShared(DocumentEvent):
    TYPE = "document.shared"
    grant_id: str
    grantee_type: str
    grantee_procedure: str | None
    expires_at: datetime | None


class DocumentDeleted(DocumentEvent):
    TYPE = "document.deleted"
    deleted_at: datetime | None


class DocumentPurged(DocumentEvent):
    TYPE = "document.purged"
    reason: str


EVENTS: tuple[type[EventData], ...] = (
    DocumentUploaded,
    DocumentQuarantined,
    DocumentShared,
    DocumentDeleted,
    DocumentPurged,
)
