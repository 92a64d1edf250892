"""Errors of the identity service: each with a stable code a commune developer can act on."""

from __future__ import annotations

from socle.problems import (
    Conflict,
    DomainError,
    Gone,
    NotFound,
    Unauthorized,
    Unavailable,
    Unprocessable,
)


class ArchiveUnavailable(Unavailable):
    code = "export-archive-unavailable"


class ExportNotReady(Conflict):
    code = "export-not-ready"


class ExportExpired(Gone):
    code = "export-expired"
    title = "This export has expired"


class UnknownExport(NotFound):
    code = "export-not-found"


class UnknownErasure(NotFound):
    code = "erasure-not-found"


class LoginRefused(DomainError):
    status, code, title = 400, "login-refused", "Login refused"

    def __init__(self, reason: str, minutes: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.minutes = minutes


class ReauthenticationRequired(Unauthorized):
    code = "reauthentication-required"
    title = "Log in again"

    def __init__(self, max_age: int) -> None:
        super().__init__(
            f"This change needs a login less than {max_age} seconds old: log in again "
            f"(prompt=login or max_age={max_age}) and retry.",
            headers={
                "WWW-Authenticate": 'Bearer error="insufficient_user_authentication", '
                f'error_description="Log in again", max_age={max_age}'
            },
        )


class LoginRequired(Unauthorized):
    code = "login-required"


class UpstreamNotConfigured(NotFound):
    code = "federation-not-configured"


class InvalidUser(Unprocessable):
    code = "invalid-user"


class WeakPassword(Unprocessable):
    code = "weak-password"


class UserExists(Conflict):
    code = "user-exists"


class UnknownUser(NotFound):
    code = "user-not-found"


class UnknownClient(NotFound):
    code = "client-not-found"


class UnknownTenant(NotFound):
    code = "tenant-not-found"


class TenantExists(Conflict):
    code = "tenant-exists"


class InvalidClientSpec(Unprocessable):
    code = "invalid-client-metadata"


class TotpAlreadyActive(Conflict):
    code = "totp-already-active"


class TotpNotStarted(Conflict):
    code = "totp-not-started"


class TotpCodeInvalid(Unprocessable):
    code = "totp-code-invalid"
