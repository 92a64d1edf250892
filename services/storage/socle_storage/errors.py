"""Errors of the storage service: each with a stable code a commune developer can act on."""

from __future__ import annotations

from socle.problems import Conflict, DomainError, Forbidden, NotFound, TooLarge, Unavailable


class DocumentNotFound(NotFound):
    code = "document-not-found"

    def __init__(self, document_id: str) -> None:
        super().__init__(f"No document {document_id} that you may see in this tenant.")


class GrantNotFound(NotFound):
    code = "grant-not-found"


class VersionNotFound(NotFound):
    code = "version-not-found"


class NotAllowed(Forbidden):
    code = "not-allowed"


class InvalidUpload(DomainError):
    """The multipart body is not what ``POST /v1/documents`` expects."""

    status, code, title = 422, "invalid-upload", "Invalid upload"


class MultipartRequired(DomainError):
    status, code, title = 415, "multipart-required", "Unsupported media type"


class VersionInProgress(Conflict):
    code = "version-in-progress"


class EmptyFile(DomainError):
    status, code, title = 422, "empty-file", "Empty file"


class FileTooLarge(TooLarge):
    code = "file-too-large"


class TypeNotAllowed(DomainError):
    status, code, title = 415, "content-type-not-allowed", "Content type not allowed"


class TypeMismatch(DomainError):
    status, code, title = 422, "content-type-mismatch", "Declared type does not match the bytes"


class InvalidFilename(DomainError):
    status, code, title = 422, "invalid-filename", "Invalid file name"


class LegalHold(Conflict):
    code = "legal-hold"


class DocumentQuarantined(Conflict):
    code = "document-quarantined"


class DocumentDeleted(Conflict):
    code = "document-deleted"


class RangeNotSatisfiable(DomainError):
    status, code, title = 416, "range-not-satisfiable", "Range not satisfiable"


class StoreUnavailable(Unavailable):
    code, dependency = "store-unavailable", "object_store"

    def __init__(self) -> None:
        super().__init__(
            "The document store cannot be reached; nothing was kept. Retry in a moment.",
            headers={"Retry-After": "5"},
        )


class ScannerUnavailable(Unavailable):
    code, dependency = "scanner-unavailable", "virus_scanner"

    def __init__(self) -> None:
        super().__init__(
            "The virus scanner cannot be reached; nothing was kept. Retry in a moment.",
            headers={"Retry-After": "5"},
        )


class UploadAborted(DomainError):
    """The client disconnected before the end of its upload; nothing was kept."""

    status, code, title = 400, "upload-aborted", "Upload aborted"

    def __init__(self) -> None:
        super().__init__("The upload ended before its last byte arrived; nothing was kept.")


class ExportNotFound(NotFound):
    code = "export-not-found"
