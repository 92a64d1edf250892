"""HTTP API of the payment service."""
