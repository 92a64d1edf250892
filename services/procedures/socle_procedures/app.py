"""Application factory of the procedures service."""

from fastapi import FastAPI

from socle.service import create_service_app
from socle_procedures.settings import ProceduresSettings


def create_app(settings: ProceduresSettings | None = None) -> FastAPI:
    settings = settings or ProceduresSettings()
    return create_service_app(
        name="procedures",
        settings=settings,
        routers=[],
        description="Procedures a commune declares from Socle's parts, and the citizen portal.",
    )
