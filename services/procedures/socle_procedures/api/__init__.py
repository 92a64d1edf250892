"""HTTP API of the procedures service."""
