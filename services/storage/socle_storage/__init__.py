"""Socle storage: documents on S3-compatible storage with metadata, checksums, retention
and once-only sharing."""
