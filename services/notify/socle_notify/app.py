"""Application factory of the notify service."""

from fastapi import FastAPI

from socle.service import create_service_app
from socle_notify.settings import NotifySettings


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    settings = settings or NotifySettings()
    return create_service_app(
        name="notify",
        settings=settings,
        routers=[],
        description="Email, SMS and signed webhooks from templates, driven by API calls and by events.",
    )
