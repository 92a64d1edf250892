"""Socle notify: email, SMS and signed webhooks from templates, driven by API and events."""
