"""RFC 9457 problem details for every error a service can answer."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from socle.db import OUTAGE_SQLSTATES
from socle.outages import Outages

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://socle.swiss/problems/"

log = structlog.get_logger("socle.problems")


class DomainError(Exception):
    """An error the caller can act on: a stable ``code``, an HTTP status and a message."""

    status: int = 400
    code: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if title is not None:
            self.title = title
        self.errors = errors
        self.headers = headers or {}


class BadRequest(DomainError):
    status, code, title = 400, "bad-request", "Bad request"


class NotFound(DomainError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict"


class Gone(DomainError):
    """Something that existed and is no more (an expired link)."""

    status, code, title = 410, "gone", "Gone"


class Unprocessable(DomainError):
    status, code, title = 422, "unprocessable", "Unprocessable request"


class Unauthorized(DomainError):
    status, code, title = 401, "unauthorized", "Authentication required"


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Forbidden"


class TooLarge(DomainError):
    status, code, title = 413, "too-large", "Content too large"


class Unavailable(DomainError):
    """A dependency is down: nothing was done, retry later (give a Retry-After header).
    ``dependency`` (``object_store``, ``mail_server``, ...) names it in the outage log."""

    status, code, title = 503, "unavailable", "Service unavailable"
    dependency: str | None = None


_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    410: ("gone", "Gone"),
    413: ("too-large", "Content too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("unprocessable", "Unprocessable request"),
    429: ("too-many-requests", "Too many requests"),
}


def problem_response(
    request: Request,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


DATABASE_RETRY_AFTER_SECONDS = 2


def is_database_outage(exc: BaseException) -> bool:
    """A database that is down, unreachable, locked or whose pool is exhausted: the
    request did not happen and may be retried (503), unlike a bug (500)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sa_exc.OperationalError | sa_exc.InterfaceError):
            message = str(current.orig if current.orig is not None else current).lower()
            if "no such" not in message and "syntax" not in message:
                return True
        if isinstance(current, sa_exc.TimeoutError | ConnectionError):
            return True
        if isinstance(current, sa_exc.DBAPIError) and _sqlstate(current).startswith(
            OUTAGE_SQLSTATES
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def _sqlstate(exc: sa_exc.DBAPIError) -> str:
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(
        getattr(orig, "__cause__", None), "sqlstate", None
    )
    return state if isinstance(state, str) else ""


def _is_data_error(exc: BaseException) -> bool:
    """The database refused a value (SQLSTATE class 22: NUL byte, bad encoding, numeric
    out of range): the caller's input, not our bug."""
    if isinstance(exc, sa_exc.DataError):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and _sqlstate(exc).startswith("22")


def _brief(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        out.append(
            {
                "field": ".".join(loc),
                "message": err.get("msg", "invalid"),
                "code": err.get("type", "invalid"),
            }
        )
    return out


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error FastAPI can raise answer ``application/problem+json``; outages of
    dependencies are told once in ``app.state.outages``."""
    if not isinstance(getattr(app.state, "outages", None), Outages):
        app.state.outages = Outages()

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        if isinstance(exc, Unavailable) and exc.dependency:
            outages_of(request).failed(exc.dependency, _brief(exc.__cause__ or exc))
        return problem_response(
            request, exc.status, exc.code, exc.title, exc.detail, exc.errors, exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        fields = ", ".join(e["field"] for e in errors)
        return problem_response(
            request,
            422,
            "validation-error",
            "Invalid request",
            f"The request has invalid fields: {fields}.",
            errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, title = _TITLES.get(exc.status_code, ("error", "Error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No resource at {request.url.path}."
        if exc.status_code == 405:
            detail = f"Method {request.method} is not allowed on {request.url.path}."
        return problem_response(
            request, exc.status_code, code, title, detail, headers=dict(exc.headers or {})
        )

    @app.exception_handler(sa_exc.SQLAlchemyError)
    @app.exception_handler(OSError)
    async def _infrastructure(request: Request, exc: Exception) -> JSONResponse:
        return _unexpected_response(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _unexpected_response(request, exc)


def outages_of(request: Request) -> Outages:
    outages: Outages = request.app.state.outages
    return outages


def _unexpected_response(request: Request, exc: Exception) -> JSONResponse:
    """A database outage is 503 with Retry-After, a value the database refuses is 422,
    anything else is our bug: 500, logged with its traceback."""
    if is_database_outage(exc):
        outages_of(request).failed("database", _brief(exc))
        return problem_response(
            request,
            503,
            "database-unavailable",
            "Service unavailable",
            "The service's database is unavailable or busy; nothing was changed. "
            "Retry in a moment.",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    if _is_data_error(exc):
        log.info("data_refused_by_database", path=request.url.path, error=_brief(exc))
        return problem_response(
            request,
            422,
            "unstorable-value",
            "Invalid request",
            "A value of the request cannot be stored (a NUL character, an invalid "
            "character or a number out of range); correct it and retry.",
        )
    log.error("unhandled_error", path=request.url.path, exc_info=exc)
    return problem_response(
        request,
        500,
        "internal-error",
        "Internal error",
        "The service failed to answer; the error is logged.",
    )
