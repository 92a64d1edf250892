"""Settings of the storage service (environment variables ``SOCLE_*``)."""

from __future__ import annotations

from pydantic import Field, model_validator

from socle.config import ServiceSettings

DEV_S3_SECRET = "socle-dev-secret-key"

DEFAULT_TYPES = (
    "application/pdf,image/png,image/jpeg,image/gif,image/webp,image/tiff,text/plain,"
    "application/zip,"
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document,"
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,"
    "application/vnd.oasis.opendocument.text"
)


class StorageSettings(ServiceSettings):
    database_url: str = "sqlite+aiosqlite:///var/storage.db"
    """Where document metadata, grants and the access log live."""

    s3_endpoint: str = "http://127.0.0.1:8333"
    """S3-compatible store (scheme, host and port) the service writes the bytes to."""
    s3_public_endpoint: str = ""
    """Endpoint put into presigned download links; defaults to ``s3_endpoint``."""
    s3_access_key: str = "socle-dev"
    """Access key of the store."""
    s3_secret_key: str = DEV_S3_SECRET
    """Secret key of the store; production refuses the development default."""
    s3_region: str = "us-east-1"
    """Region used to sign requests (SeaweedFS and MinIO accept ``us-east-1``)."""
    s3_bucket: str = "socle-documents"
    """Bucket holding every tenant's documents, each tenant under its own prefix
    ``<tenant>/``; created on demand."""
    s3_bucket_per_tenant: bool = False
    """Give each tenant its own bucket ``<s3_bucket>-<tenant>`` instead of a prefix (on
    SeaweedFS every bucket takes volumes of its own: keep the default there)."""
    s3_sse: str = ""
    """Server-side encryption asked of the store: empty (none), ``AES256`` or ``aws:kms``."""
    s3_sse_kms_key_id: str = ""
    """KMS key id when ``s3_sse`` is ``aws:kms`` (needs an https endpoint)."""
    s3_timeout_seconds: float = 10.0
    """Connect and read timeout of one request to the store."""
    s3_part_size_bytes: int = 8 * 1024 * 1024
    """Size of the parts of a streamed upload; memory per upload stays around twice this."""

    presign_seconds: int = 300
    """Lifetime of a presigned download link."""
    download_redirect_min_bytes: int = Field(default=0, ge=0)
    """0: every download goes through the service. Otherwise a whole version of at least
    this size is answered with a redirect to a presigned link on the store (clients must
    reach ``s3_public_endpoint``)."""

    default_max_size_bytes: int = 25 * 1024 * 1024
    """Largest upload a tenant accepts until it sets its own rule."""
    default_allowed_types: str = DEFAULT_TYPES
    """Comma-separated content types a tenant accepts until it sets its own rule."""
    default_retention_days: int = 3650
    """How long a document is kept when its tenant has no retention rule for its kind."""

    deleted_grace_seconds: int = 30 * 24 * 3600
    """How long a soft-deleted document stays restorable before the purge removes it."""
    purge_interval_seconds: float = 3600.0
    """How often the service runs the purge and the reconciler itself; 0 disables it."""
    pending_timeout_seconds: int = 3600
    """An upload still pending after this long is considered abandoned and removed."""
    access_log_retention_days: int = 365
    """Days a read of a document stays in the access log before the purge deletes it
    (0: kept forever)."""

    clamd_url: str = ""
    """``tcp://host:port`` of a clamd daemon scanning every upload; empty disables scanning."""
    clamd_timeout_seconds: float = 30.0
    """How long to wait for clamd's verdict."""

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.s3_secret_key == DEV_S3_SECRET:
            problems.append("SOCLE_S3_SECRET_KEY: the development secret is refused in production")
        return problems

    @model_validator(mode="after")
    def _check_store(self) -> StorageSettings:
        if self.s3_sse not in ("", "AES256", "aws:kms"):
            raise ValueError("SOCLE_S3_SSE: use nothing, AES256 or aws:kms")
        if self.s3_part_size_bytes < 5 * 1024 * 1024:
            raise ValueError("SOCLE_S3_PART_SIZE_BYTES: S3 needs parts of at least 5 MiB")
        return self

    @property
    def allowed_types(self) -> list[str]:
        return [t.strip() for t in self.default_allowed_types.split(",") if t.strip()]
