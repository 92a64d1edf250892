"""Settings of the identity service (environment variables ``SOCLE_*``)."""

from socle.config import ServiceSettings


class IdentitySettings(ServiceSettings):
    database_url: str = "sqlite+aiosqlite:///var/identity.db"
