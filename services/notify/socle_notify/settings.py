"""Settings of the notify service (environment variables ``SOCLE_*``)."""

from socle.config import ServiceSettings


class NotifySettings(ServiceSettings):
    database_url: str = "sqlite+aiosqlite:///var/notify.db"
