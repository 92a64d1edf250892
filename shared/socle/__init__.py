"""Socle: the shared library of the Socle services."""
