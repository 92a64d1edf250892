"""The published OpenAPI document tells every answer a route can give.

Each service declares its own domain answers on its routes
(``responses=problem_responses(404, (409, "Under legal hold"))``);
what every route shares is added here, once, from what the route actually depends on:
``401``/``403`` where a token is required (with the scopes as a security requirement), ``404``
where the path names a resource, ``400`` and ``409`` where an ``Idempotency-Key`` is taken,
``422`` where there is anything to validate, and ``503`` everywhere (database outage).
Every problem is ``application/problem+json`` with the :data:`PROBLEM_SCHEMA`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from socle.problems import PROBLEM_JSON

SCOPES_ATTRIBUTE = "__socle_scopes__"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}
DESCRIPTIONS = {
    400: "Bad request",
    401: "No valid access token",
    403: "The token lacks a scope or role",
    404: "Not found (or not yours)",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    416: "Range not satisfiable",
    422: "Invalid request",
    429: "Too many requests",
    502: "A service this one relies on refused",
    503: "Unavailable; retry after the Retry-After header",
}


def problem_responses(*answers: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status answered as problem+json, with the shared
    description or the route's own: ``problem_responses(404, (409, "Under legal hold"))``."""
    found: dict[int | str, dict[str, Any]] = {}
    for answer in answers:
        status, description = answer if isinstance(answer, tuple) else (answer, None)
        found[status] = problem_response(status, description)
    return found


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or DESCRIPTIONS.get(status, "Problem"),
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
    }


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dep in _dependants(dependant):
        if dep.call is not None:
            yield dep.call


def required_scopes(route: Any) -> tuple[str, ...] | None:
    """The scopes a route's token must carry, or ``None`` when it takes no token."""
    for call in _calls(route.dependant):
        scopes = getattr(call, SCOPES_ATTRIBUTE, None)
        if scopes is not None:
            return tuple(scopes)
    return None


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for dep in dependant.dependencies:
        yield from _dependants(dep)


def _header_names(route: Any) -> set[str]:
    return {p.alias.lower() for d in _dependants(route.dependant) for p in d.header_params}


def _has_input(route: Any) -> bool:
    return any(
        d.path_params or d.query_params or d.header_params or d.body_params
        for d in _dependants(route.dependant)
    )


def api_routes(app: FastAPI) -> list[Any]:
    """Every API route of the app, those of included routers too (each has ``path_format``,
    ``methods``, ``dependant`` and ``include_in_schema``)."""
    found: list[Any] = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # a router added with include_router
            found += [ctx for ctx in contexts() if getattr(ctx, "dependant", None) is not None]
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def complete(app: FastAPI) -> None:
    """Make ``app.openapi()`` document the shared answers of every route."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        components["schemas"].pop("HTTPValidationError", None)
        components["schemas"].pop("ValidationError", None)
        components.setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from the identity service (RFC 9068).",
        }
        for route in api_routes(app):
            if not route.include_in_schema:
                continue
            path = schema["paths"].get(route.path_format)
            if path is None:
                continue
            for method in route.methods:
                operation = path.get(method.lower())
                if operation is not None:
                    _complete_operation(route, operation)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _complete_operation(route: Any, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    wanted: set[int] = {503}
    scopes = required_scopes(route)
    if scopes is not None:
        wanted |= {401, 403}
        operation["security"] = [{"bearer": list(scopes)}]
    if route.dependant.path_params:
        wanted.add(404)
    if _has_input(route):
        wanted.add(422)
    if "idempotency-key" in _header_names(route):
        wanted |= {400, 409, 422}
    media = _media_type(route)
    for status in sorted(wanted):
        answer = responses.get(str(status))
        if media == "text/html":  # a page: its errors are pages too
            answer = responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
            content = answer.setdefault("content", {})
            content.pop("application/json", None)  # FastAPI's 422, whose schema is removed
            content.setdefault("text/html", {})
        elif answer is None or status == 422:
            responses[str(status)] = problem_response(status)
        else:
            content = answer.setdefault("content", {})
            content.pop("application/json", None)
            content.setdefault(PROBLEM_JSON, {"schema": PROBLEM_REF})


def _media_type(route: Any) -> str | None:
    response_class = getattr(route, "response_class", None)
    value = getattr(response_class, "value", response_class)  # FastAPI's DefaultPlaceholder
    media = getattr(value, "media_type", None)
    return media if isinstance(media, str) else None
