"""Socle payment: Fees paid online (Stripe, sandbox) or by Swiss QR-bill, refunds and reconciliation."""
