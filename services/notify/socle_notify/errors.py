"""The errors notify answers with: each a stable ``code``, an HTTP status and a message."""

from __future__ import annotations

from socle.problems import DomainError


class NotifyError(DomainError):
    """Base of notify's errors."""


class NotFoundError(NotifyError):
    status, code, title = 404, "not-found", "Not found"


class ConflictError(NotifyError):
    status, code, title = 409, "conflict", "Conflict"


class UnprocessableError(NotifyError):
    status, code, title = 422, "unprocessable", "Unprocessable request"


class TemplateNotFound(NotFoundError):
    code = "template-not-found"


class NotificationNotFound(NotFoundError):
    code = "notification-not-found"


class BatchNotFound(NotFoundError):
    code = "batch-not-found"


class RuleNotFound(NotFoundError):
    code = "rule-not-found"


class SubscriptionNotFound(NotFoundError):
    code = "subscription-not-found"


class DeliveryNotFound(NotFoundError):
    code = "delivery-not-found"


class BatchStarted(ConflictError):
    code = "batch-started"


class DeliveryNotDead(ConflictError):
    code = "delivery-not-dead"


class InvalidRecipient(UnprocessableError):
    code = "invalid-recipient"


class MissingPersonalisation(UnprocessableError):
    code = "missing-personalisation"


class InvalidTemplate(UnprocessableError):
    code = "invalid-template"


class WrongChannel(UnprocessableError):
    code = "wrong-channel"


class SmsTooLong(UnprocessableError):
    code = "sms-too-long"


class InvalidBatch(UnprocessableError):
    code = "invalid-batch"


class InvalidRule(UnprocessableError):
    code = "invalid-rule"


class InvalidCallback(UnprocessableError):
    code = "invalid-callback-url"


class InvalidSecret(UnprocessableError):
    code = "invalid-secret"


class UnknownEventType(UnprocessableError):
    code = "unknown-event-type"
