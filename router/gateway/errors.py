"""One place where every failure on /v1 becomes Anthropic's error body with its status and a request-id."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.datastructures import State
from litestar.exceptions import HTTPException

from router.wire.errors import (
    ApiError,
    ApiInternalError,
    InvalidRequestError,
    NotFoundError,
    RequestTooLargeError,
    error_for_status,
)

log = logging.getLogger("router.gateway")


def _request_id(request: Request[Any, Any, State]) -> str:
    from router.gateway.messages import new_request_id

    rid = request.scope.get("state", {}).get("request_id")
    return rid if isinstance(rid, str) else new_request_id()


def api_error_response(request: Request[Any, Any, State], error: ApiError) -> Response[bytes]:
    headers = {**error.headers, "request-id": _request_id(request)}
    if error.status in (429, 500, 529) or error.status >= 500:
        headers.setdefault("x-should-retry", "true")
    return Response(
        error.to_bytes(), status_code=error.status, media_type="application/json", headers=headers
    )


def handle_api_error(request: Request[Any, Any, State], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, ApiError)
    return api_error_response(request, exc)


def handle_http_exception(request: Request[Any, Any, State], exc: Exception) -> Response[bytes]:
    """Litestar's own errors (404 route, 405, 413 body too large, 400 parse) in Anthropic's shape."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    detail = exc.detail or "request failed"
    error: ApiError
    if status == 413:
        error = RequestTooLargeError("request body is too large")
    elif status == 404:
        error = NotFoundError(f"not found: {request.url.path}")
    elif status == 405:
        error = InvalidRequestError(f"method {request.method} is not allowed on {request.url.path}")
    elif status < 500:
        error = InvalidRequestError(detail)
    else:
        error = error_for_status(status, detail)
    return api_error_response(request, error)


def handle_unexpected(request: Request[Any, Any, State], exc: Exception) -> Response[bytes]:
    # The boundary: log with the request id, never the body; the client gets a generic api_error.
    log.exception("unhandled error", extra={"request_id": _request_id(request), "path": request.url.path})
    return api_error_response(request, ApiInternalError("internal error"))
