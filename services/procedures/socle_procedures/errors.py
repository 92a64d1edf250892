"""The procedures service's domain errors (rendered as problem+json)."""

from __future__ import annotations

from socle.problems import (
    Conflict,
    DomainError,
    NotFound,
    Unauthorized,
    Unavailable,
    Unprocessable,
)


class InvalidDefinition(Unprocessable):
    code = "invalid-definition"
    title = "Invalid procedure definition"


class ProcedureNotFound(NotFound):
    code = "procedure-not-found"


class RequestNotFound(NotFound):
    code = "request-not-found"


class AlreadyPublished(Conflict):
    code = "already-published"


class ProcedureRetired(Conflict):
    code = "procedure-retired"


class IllegalTransition(Conflict):
    code = "illegal-transition"


class NotEditable(Conflict):
    code = "request-not-editable"


class InvalidAnswers(Unprocessable):
    code = "invalid-answers"
    title = "Invalid answers"


class Incomplete(Conflict):
    code = "request-incomplete"


class FeeNotPaid(Conflict):
    code = "fee-not-paid"


class NoFee(Conflict):
    code = "no-fee"


class PaymentUnavailable(Unavailable):
    code = "payment-unavailable"


class PaymentRefused(DomainError):
    status, code, title = 502, "payment-refused", "The payment service refused"


class StorageUnavailable(Unavailable):
    code = "storage-unavailable"


class DocumentRefused(Unprocessable):
    """Storage refused a file (too large, a type it does not take, empty, unreadable):
    ``reason`` is the answer's message code (``document_size``, ``document_type``, ...)."""

    code = "document-refused"

    def __init__(self, detail: str, reason: str) -> None:
        super().__init__(detail)
        self.reason = reason


class InvalidAction(Unprocessable):
    code = "invalid-action"
    title = "Invalid action"


class InvalidMandate(Unprocessable):
    code = "invalid-mandate"
    title = "Invalid mandate"


class MandateRevoked(Conflict):
    code = "mandate-revoked"


class MandateNotFound(NotFound):
    code = "mandate-not-found"


class LoginFailed(Unauthorized):
    code = "login-failed"


class IdentityUnavailable(Unavailable):
    code = "identity-unavailable"


class ActionNotAllowed(IllegalTransition):
    """409 naming the actions allowed in the request's current state."""

    code = "action-not-allowed"

    def __init__(self, detail: str, allowed: list[str]) -> None:
        super().__init__(
            f"{detail} Allowed now: {', '.join(allowed) or 'none'}.",
            errors=[{"pointer": "/action", "code": "action-not-allowed", "allowed": allowed}],
        )
        self.allowed = allowed
