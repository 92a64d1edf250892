"""Socle payment: fees paid online or by Swiss QR-bill, refunds and reconciliation."""
