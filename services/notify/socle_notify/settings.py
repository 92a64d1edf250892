"""Settings of the notify service (environment variables ``SOCLE_*``)."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from pydantic import model_validator

from socle import export_parts


class NotifySettings(export_parts.ExportPartsSettings):
    """Settings of notify; each one is an environment variable ``SOCLE_<NAME>``."""

    database_url: str = "sqlite+aiosqlite:///var/notify.db"
    """Where notify keeps templates, notifications, rules and webhook deliveries."""

    smtp_host: str = "127.0.0.1"
    """SMTP server that relays the mails (``make run`` starts a sink on 1025)."""
    smtp_port: int = 1025
    """Port of the SMTP server."""
    smtp_starttls: bool = False
    """Upgrade the SMTP connection with STARTTLS before authenticating and sending."""
    smtp_use_tls: bool = False
    """Connect with implicit TLS (SMTPS, usually port 465) instead of STARTTLS."""
    smtp_username: str = ""
    """SMTP user name; empty means no authentication."""
    smtp_password: str = ""
    """SMTP password (only used with ``smtp_username``)."""
    smtp_timeout_seconds: float = 15.0
    """How long one SMTP conversation may take before it counts as a temporary failure."""
    mail_from: str = "Socle <noreply@socle.localhost>"
    """The ``From`` of every mail."""

    sms_provider: str = "sink"
    """``sink`` (keeps SMS in ``sms_sink_dir`` and the log, for development) or ``http``."""
    sms_gateway_url: str = ""
    """With ``sms_provider=http``: the gateway endpoint that receives ``POST`` JSON messages."""
    sms_gateway_token: str = ""
    """With ``sms_provider=http``: bearer token sent to the gateway."""
    sms_sender: str = "Socle"
    """Sender name or number shown on SMS."""
    sms_sink_dir: str = "var/sms"
    """With ``sms_provider=sink``: folder where each SMS is written as a JSON file."""
    sms_max_fragments: int = 6
    """Longest SMS accepted, in fragments (160 GSM-7 or 70 UCS-2 characters each)."""
    default_phone_region: str = "CH"
    """Region assumed for phone numbers written without ``+`` and country code."""

    email_rate_per_minute: int = 600
    """Mails one tenant may send per minute; more wait their turn (per worker process)."""
    sms_rate_per_minute: int = 120
    """SMS one tenant may send per minute; more wait their turn (per worker process)."""

    worker_poll_seconds: float = 1.0
    """How often the delivery worker looks for due notifications and webhook deliveries."""
    worker_batch: int = 50
    """How many notifications (or webhook deliveries) the worker claims at once."""
    worker_concurrency: int = 4
    """How many deliveries one worker runs at the same time."""
    lease_seconds: float = 120.0
    """How long a claimed delivery belongs to a worker; after that (a crash) it is retried."""
    max_attempts: int = 5
    """Attempts of a notification before it becomes ``permanent_failure``."""
    retry_base_seconds: float = 30.0
    """First retry delay; doubled at each attempt (exponential backoff)."""
    retry_max_seconds: float = 3600.0
    """Longest delay between two attempts."""

    webhook_timeout_seconds: float = 10.0
    """How long a subscriber's endpoint may take to answer a delivery."""
    webhook_max_attempts: int = 8
    """Attempts of a webhook delivery before it is parked in the dead-letter list."""
    webhook_allow_private: bool = False
    """Allow callback URLs on loopback, private and link-local addresses (never in production
    unless the subscriber systems are really inside the network)."""
    webhook_allow_http: bool = True
    """Allow plain ``http://`` callback URLs; when false only ``https://`` is accepted."""

    operations_email: str = ""
    """Where final failures are mailed when a tenant has no address of its own."""
    tenant_operations_emails: dict[str, str] = {}
    """Per-tenant operations addresses, as JSON: ``{"vevey": "it@vevey.ch"}``."""
    notification_retention_days: int = 365
    """Days a final notification (delivered, failed for good, cancelled) is kept before the
    purge deletes it, unless the commune set its own (``PUT /v1/retention``)."""
    webhook_delivery_retention_days: int = 30
    """Days a finished webhook delivery (delivered or dead) and its attempts are kept before
    the retention purge deletes them (0: kept forever)."""
    retention_purge_seconds: float = 3600.0
    """Seconds between two runs of the retention purge (0: never, for tests)."""
    builtin_identity_mails: bool = True
    """Send the built-in verification, password-reset and "your data is ready" mails for
    ``user.registered``, ``user.password_reset_requested`` and ``person.export.available``
    when the tenant has no rule of its own for them."""
    builtin_procedure_mails: bool = True
    """Send the built-in mails for ``procedure.request.submitted`` (the receipt),
    ``information_requested``, ``approved`` and ``rejected`` (in the citizen's language, with
    the commune's name and a link to the request) when the tenant has no rule of its own."""
    batch_max_recipients: int = 50000
    """Most recipients in one batch."""
    batch_max_schedule_hours: float = 72.0
    """How far ahead a batch may be scheduled."""
    consumer_name: str = "notify"
    """Durable JetStream consumer of the events that drive rules and webhooks."""

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.sms_provider == "sink":
            problems.append("SOCLE_SMS_PROVIDER=sink keeps SMS on disk; set http")
        if self.mail_from.endswith("@socle.localhost>"):
            problems.append("SOCLE_MAIL_FROM still has the development address")
        return problems

    @model_validator(mode="after")
    def _check_addresses(self) -> NotifySettings:
        for name, address in [("SOCLE_OPERATIONS_EMAIL", self.operations_email)] + [
            (f"SOCLE_TENANT_OPERATIONS_EMAILS[{t}]", a)
            for t, a in self.tenant_operations_emails.items()
        ]:
            if address:
                try:
                    validate_email(address, check_deliverability=False)
                except EmailNotValidError as exc:
                    raise ValueError(f"{name} is not a valid address: {exc}") from None
        if self.sms_provider not in ("sink", "http"):
            raise ValueError("SOCLE_SMS_PROVIDER must be sink or http")
        if self.sms_provider == "http" and not self.sms_gateway_url:
            raise ValueError("SOCLE_SMS_GATEWAY_URL is required with SOCLE_SMS_PROVIDER=http")
        return self

    def operations_address(self, tenant: str) -> str:
        """The address that hears about final failures of ``tenant`` ('' when none)."""
        return self.tenant_operations_emails.get(tenant, self.operations_email)
