"""One error hierarchy, mapped to Anthropic's error types in one table.

The core raises these; one exception handler at the HTTP edge turns them into Anthropic's error body
(`ApiError.body()` / `ApiError.to_bytes()`) with `ApiError.status` and `ApiError.headers`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Final

import msgspec

__all__ = [
    "ERROR_TABLE",
    "ApiError",
    "ApiInternalError",
    "AuthenticationError",
    "BillingError",
    "GatewayTimeoutError",
    "InvalidRequestError",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "error_class_for_type",
    "error_for_status",
]


class ApiError(Exception):
    """An error the client sees as Anthropic's `{"type":"error","error":{...}}` body."""

    default_status: ClassVar[int] = 500
    default_error_type: ClassVar[str] = "api_error"

    status: int
    error_type: str
    message: str
    headers: dict[str, str]

    def __init__(self, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = self.default_status
        self.error_type = self.default_error_type
        self.message = message
        self.headers = dict(headers) if headers else {}

    def body(self) -> dict[str, Any]:
        return {"type": "error", "error": {"type": self.error_type, "message": self.message}}

    def to_bytes(self) -> bytes:
        return msgspec.json.encode(self.body())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, message={self.message!r})"


class InvalidRequestError(ApiError):
    pass


class AuthenticationError(ApiError):
    pass


class BillingError(ApiError):
    pass


class PermissionDeniedError(ApiError):
    pass


class NotFoundError(ApiError):
    pass


class RequestTooLargeError(ApiError):
    pass


class RateLimitError(ApiError):
    """429; `retry_after` (seconds) becomes the `retry-after` header, rounded up to whole seconds."""

    retry_after: float | None

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, headers=headers)
        self.retry_after = retry_after
        if retry_after is not None and retry_after >= 0:
            self.headers["retry-after"] = str(max(1, math.ceil(retry_after)))


class ApiInternalError(ApiError):
    pass


class GatewayTimeoutError(ApiError):
    pass


class OverloadedError(ApiError):
    pass


# The one table: class -> (HTTP status, Anthropic error type). Anthropic documents every pair below.
ERROR_TABLE: Final[dict[type[ApiError], tuple[int, str]]] = {
    InvalidRequestError: (400, "invalid_request_error"),
    AuthenticationError: (401, "authentication_error"),
    BillingError: (402, "billing_error"),
    PermissionDeniedError: (403, "permission_error"),
    NotFoundError: (404, "not_found_error"),
    RequestTooLargeError: (413, "request_too_large"),
    RateLimitError: (429, "rate_limit_error"),
    ApiInternalError: (500, "api_error"),
    GatewayTimeoutError: (504, "timeout_error"),
    OverloadedError: (529, "overloaded_error"),
}

for _cls, (_status, _type) in ERROR_TABLE.items():
    _cls.default_status = _status
    _cls.default_error_type = _type

_CLASS_BY_TYPE: Final[dict[str, type[ApiError]]] = {etype: cls for cls, (_, etype) in ERROR_TABLE.items()}


def error_class_for_type(error_type: str) -> type[ApiError]:
    """The class for an Anthropic error type string (unknown types are `ApiInternalError`)."""
    return _CLASS_BY_TYPE.get(error_type, ApiInternalError)


# How an upstream's HTTP status maps onto what our client should see. An upstream 401/403 means the
# provider credential configured in the router is wrong: that is our (server-side) failure, not the
# client's, so the client gets a 500 and never a hint that its own key was rejected.
_UPSTREAM_STATUS: Final[dict[int, type[ApiError]]] = {
    400: InvalidRequestError,
    404: NotFoundError,
    408: GatewayTimeoutError,
    413: RequestTooLargeError,
    422: InvalidRequestError,
    429: RateLimitError,
    503: OverloadedError,
    504: GatewayTimeoutError,
    529: OverloadedError,
}


def error_for_status(status: int, message: str, retry_after: float | None = None) -> ApiError:
    """Map an upstream HTTP status (and its message) to the error our client receives."""
    if status in (401, 403):
        return ApiInternalError(
            f"the upstream provider rejected the configured provider credential: {message}"
        )
    cls = _UPSTREAM_STATUS.get(status)
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=retry_after)
    if cls is not None:
        return cls(message)
    if 400 <= status < 500:
        return InvalidRequestError(message)
    return ApiInternalError(message)
