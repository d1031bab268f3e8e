"""One place where every failure on /v1 becomes Anthropic's error body with its status and a request-id.

`as_api_error` is the one conversion: our own `ApiError`s pass as they are, routing's errors and
upstream failures (through `router.providers.policy`, the one upstream-error policy) become one. The
app registers `handle_error` for all of them, so whatever the gateway raises reaches the client the
same way.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from litestar import Request, Response
from litestar.datastructures import State
from litestar.exceptions import HTTPException

from router.gateway.usage_notices import budget_refusal
from router.providers.base import ProviderError
from router.providers.policy import client_error
from router.routing.errors import RoutingError
from router.usage.limit_rules import LimitExceeded
from router.wire.errors import (
    ApiError,
    ApiInternalError,
    InvalidRequestError,
    NotFoundError,
    RequestTooLargeError,
    error_class_for_type,
)
from router.wire.responses import new_request_id

log = logging.getLogger("router.gateway")

# The exception types `handle_error` converts (the app registers it for each).
CONVERTED: Final = (ApiError, RoutingError, ProviderError)


def as_api_error(exc: ApiError | RoutingError | ProviderError) -> ApiError:
    """The error the client sees for anything the request path raises."""
    if isinstance(exc, LimitExceeded) and exc.kind == "budget":
        return budget_refusal(exc)
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RoutingError):
        return error_class_for_type(exc.error_type)(exc.message)
    return client_error(exc)


def _request_id(request: Request[Any, Any, State]) -> str:
    rid = request.scope.get("state", {}).get("request_id")
    return rid if isinstance(rid, str) else new_request_id()


def api_error_response(request: Request[Any, Any, State], error: ApiError) -> Response[bytes]:
    headers = {**error.headers, "request-id": _request_id(request)}
    return Response(
        error.to_bytes(), status_code=error.status, media_type="application/json", headers=headers
    )


def handle_error(request: Request[Any, Any, State], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, CONVERTED)
    return api_error_response(request, as_api_error(exc))


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
        error = ApiInternalError(detail)
    return api_error_response(request, error)


def handle_unexpected(request: Request[Any, Any, State], exc: Exception) -> Response[bytes]:
    # The boundary: log with the request id, never the body; the client gets a generic api_error.
    log.exception("unhandled error", extra={"request_id": _request_id(request), "path": request.url.path})
    return api_error_response(request, ApiInternalError("internal error"))
