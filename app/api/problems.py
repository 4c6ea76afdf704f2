"""Errors as `application/problem+json` (RFC 9457): bad input is a 4xx with details, never a 500.

The OpenAPI document declares every error a route can answer with (`errors_for`), so clients
and the fuzzer (tests/api/test_fuzz.py) can hold the API to it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.config.problems import format_path

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
# How long a client should wait before retrying while the database is unreachable.
RETRY_AFTER_SECONDS = 5

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    422: "Invalid request",
    503: "Service unavailable",
}


class FieldError(BaseModel):
    """One refused input: where it is (`body.value`, `query.offset`) and what is wrong."""

    field: str
    message: str


class Problem(BaseModel):
    """An error answer (RFC 9457); `errors` lists the refused fields of a 422."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


def errors_for(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return the OpenAPI `responses=` entries for these error statuses, as problem+json."""
    return {
        status: {
            "description": TITLES[status],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


# What every route under /api/v1 may answer: a missing or wrong token (reads too, when
# `require_token_for_reads` is set), bad parameters, and a database that does not answer.
API_ERRORS = errors_for(401, 403, 422, 503)
NOT_FOUND = errors_for(404)
# Writes also refuse bodies over `[api] max_body_bytes`.
WRITE_NOT_FOUND = errors_for(404, 413)
# Writes with a JSON body: 400 when the body cannot be decoded at all.
BODY_WRITE_ERRORS = errors_for(400, 404, 413)


def link_to(path: str, method: str, **parameters: str) -> dict[str, Any]:
    """Return an OpenAPI link to the operation at `path` (with its /api/v1 prefix).

    Links say which answer feeds which request; the fuzzer follows them (stateful tests).
    """
    pointer = path.replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{method}", "parameters": parameters}


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """Return a problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def invalid(field: str, message: str) -> RequestValidationError:
    """Return a 422 for one field, answered in the same shape as the models' own 422s."""
    loc = tuple(field.split("."))
    return RequestValidationError([{"loc": loc, "msg": message, "type": "value_error"}])


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": format_path(tuple(e["loc"])), "message": e["msg"].removeprefix("Value error, ")}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "Invalid request", detail, errors=errors)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = problem(exc.status_code, _title(exc.status_code), str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def database_unavailable() -> JSONResponse:
    """Return the 503 a client gets while the database cannot be reached."""
    response = problem(
        503,
        TITLES[503],
        "the database is not answering right now; try again shortly",
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def _database_error(_: Request, exc: Exception) -> JSONResponse:
    # Connection losses, refused connections, a full pool or a locked SQLite file are
    # transient: the client may retry. Anything else from the database is a bug (500).
    connection_lost = isinstance(exc, DBAPIError) and exc.connection_invalidated
    unreachable = (PoolTimeout, DisconnectionError, OperationalError, InterfaceError)
    if connection_lost or isinstance(exc, unreachable):
        log.warning("database unavailable: %s", type(exc).__name__)
        return database_unavailable()
    return await _unexpected(_, exc)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error in the API", exc_info=exc)
    return problem(500, "Internal error", "an unexpected error occurred; see the server log")


def _title(status: int) -> str:
    return TITLES.get(status, "Error")


def _declare_problem_schema(app: FastAPI) -> None:
    """Add `Problem` to the OpenAPI components the `errors_for` entries refer to."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        spec = build()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        if "Problem" not in schemas:
            problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(problem_schema.pop("$defs", {}))
            schemas["Problem"] = problem_schema
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error through problem+json, and declare its schema in the OpenAPI."""
    _declare_problem_schema(app)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeout, _database_error)
    app.add_exception_handler(DisconnectionError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
