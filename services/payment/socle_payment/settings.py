"""Settings of the payment service (environment variables ``SOCLE_*``)."""

from socle.config import ServiceSettings


class PaymentSettings(ServiceSettings):
    database_url: str = "sqlite+aiosqlite:///var/payment.db"
