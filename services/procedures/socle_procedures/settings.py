"""Settings of the procedures service (environment variables ``SOCLE_*``)."""

from socle.config import ServiceSettings


class ProceduresSettings(ServiceSettings):
    database_url: str = "sqlite+aiosqlite:///var/procedures.db"
