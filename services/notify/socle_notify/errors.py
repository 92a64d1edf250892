"""The errors notify answers with: each a stable ``code``, an HTTP status and a message."""

from __future__ import annotations

from socle.problems import Conflict, NotFound, Unprocessable


class TemplateNotFound(NotFound):
    code = "template-not-found"


class NotificationNotFound(NotFound):
    code = "notification-not-found"


class BatchNotFound(NotFound):
    code = "batch-not-found"


class RuleNotFound(NotFound):
    code = "rule-not-found"


class SubscriptionNotFound(NotFound):
    code = "subscription-not-found"


class DeliveryNotFound(NotFound):
    code = "delivery-not-found"


class BatchStarted(Conflict):
    code = "batch-started"


class DeliveryNotDead(Conflict):
    code = "delivery-not-dead"


class InvalidRecipient(Unprocessable):
    code = "invalid-recipient"


class MissingPersonalisation(Unprocessable):
    code = "missing-personalisation"


class InvalidTemplate(Unprocessable):
    code = "invalid-template"


class WrongChannel(Unprocessable):
    code = "wrong-channel"


class SmsTooLong(Unprocessable):
    code = "sms-too-long"


class InvalidBatch(Unprocessable):
    code = "invalid-batch"


class InvalidRule(Unprocessable):
    code = "invalid-rule"


class InvalidCallback(Unprocessable):
    code = "invalid-callback-url"


class InvalidSecret(Unprocessable):
    code = "invalid-secret"


class UnknownEventType(Unprocessable):
    code = "unknown-event-type"
