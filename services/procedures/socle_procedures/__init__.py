"""Socle procedures: Procedures a commune declares from Socle's parts, and the citizen portal."""
