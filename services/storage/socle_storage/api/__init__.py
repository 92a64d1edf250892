"""HTTP API of the storage service."""
