"""The management API's errors: JSON `{"type": "error", "error": {"type", "message", "field"?}}`, with 422
naming the offending field for bad input (from the body's schema or from the shared validators)."""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException

from router.store.catalog import CatalogError
from router.store.db import AlreadyExistsError, DatabaseBusyError, NotFoundError, StoreError

log = logging.getLogger(__name__)

TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    422: "invalid_request_error",
}


# A handler's own not-found (an unrestricted caller naming an id that does not exist). The guard answers a
# tenant the caller may not see with plain "not found" whether or not it exists.
NO_SUCH = "no such object"


class ApiError(HTTPException):
    """An API refusal with a status, a message and, for bad input, the field."""

    def __init__(self, status: int, message: str, *, field: str | None = None) -> None:
        super().__init__(detail=message, status_code=status)
        self.field = field


def body(status: int, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": TYPES.get(status, "api_error"), "message": message}
    if field:
        error["field"] = field
    return {"type": "error", "error": error}


def error_response(status: int, message: str, field: str | None = None) -> Response[Any]:
    return Response(body(status, message, field), status_code=status, headers={"Cache-Control": "no-store"})


_WORD = re.compile(r"[a-z_]+")


def field_of(message: str, known: frozenset[str]) -> str | None:
    """The field a shared validator's message is about: the first known field name it mentions before any
    quoted value ("rpm must not be negative", "invalid tenant name 'x': ...", "budget_usd 80 is more ...")."""
    text = message.split("'", 1)[0].lower()
    for word in _WORD.findall(text):
        if word in known:
            return str(word)
    return None


KNOWN_FIELDS = frozenset(
    {
        "name",
        "rpm",
        "tpm",
        "budget_usd",
        "window",
        "amount_usd",
        "allowed_targets",
        "allowed_models",
        "member",
        "expires",
        "password",
        "role",
        "tenants",
        "match",
        "target",
        "chain",
        "targets",
        "kind",
        "api_base",
        "username",
    }
)


def handle_api_error(_request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return error_response(exc.status_code, str(exc.detail), exc.field)


def handle_validation(_request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    field = str(first.get("key") or "") or None
    message = str(first.get("message") or exc.detail)
    return error_response(422, f"{field}: {message}" if field else message, field)


# The store's name for a field where the API's body names it otherwise.
_API_NAMES = {"conditions": "when"}


def api_field(field: str | None) -> str | None:
    """`conditions.max_tokens` -> `when.max_tokens`: the field as the caller wrote it."""
    if not field:
        return field
    head, dot, rest = field.partition(".")
    return _API_NAMES.get(head, head) + dot + rest


def handle_store_error(_request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    message = str(exc)
    if isinstance(exc, DatabaseBusyError):
        return error_response(503, message)
    if isinstance(exc, CatalogError):
        status = 422 if not isinstance(exc, AlreadyExistsError) else 409
        field = api_field(exc.field)
        return error_response(status, f"{field}: {exc.message}" if field else exc.message, field)
    if isinstance(exc, AlreadyExistsError):
        return error_response(409, message, "name")
    if isinstance(exc, NotFoundError):
        return error_response(404, f"{NO_SUCH}: {message}")
    if isinstance(exc, ValueError | StoreError):
        return error_response(422, message, field_of(message, KNOWN_FIELDS))
    raise exc


def handle_http(_request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, NotFoundException):
        return error_response(404, "not found")
    return error_response(exc.status_code, str(exc.detail))


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("management API error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal error; it was logged")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApiError: handle_api_error,
    ValidationException: handle_validation,
    StoreError: handle_store_error,
    ValueError: handle_store_error,
    HTTPException: handle_http,
    Exception: handle_unexpected,
}
