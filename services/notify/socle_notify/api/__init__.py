"""HTTP API of the notify service."""
