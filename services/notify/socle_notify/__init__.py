"""Socle notify: Email, SMS and signed webhooks from templates, driven by API calls and by events."""
