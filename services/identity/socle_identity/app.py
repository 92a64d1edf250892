"""Application factory of the identity service."""

from fastapi import FastAPI

from socle.service import create_service_app
from socle_identity.settings import IdentitySettings


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()
    return create_service_app(
        name="identity",
        settings=settings,
        routers=[],
        description="OpenID Connect provider: citizens, staff and commune apps log in; every other service trusts its tokens.",
    )
