"""Socle storage: Documents on S3-compatible storage with metadata, checksums, retention and once-only sharing."""
