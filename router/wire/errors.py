"""One error hierarchy, mapped to Anthropic's error types in one table.

The core raises these; one exception handler at the HTTP edge turns them into Anthropic's error body
(`ApiError.body()` / `ApiError.to_bytes()`) with `ApiError.status` and `ApiError.headers`.

`x-should-retry` is part of each error: Anthropic's SDKs (and so Claude Code) obey it before their own
status rules. `true` on throttling and server errors; `false` where a retry cannot help and the client
would otherwise keep retrying for minutes (a revoked or expired key, a spent budget, `not_supported`).
Upstream failures reach this table through `router.providers.policy`, the one upstream-error policy.
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
    "NotSupportedError",
    "OverloadedError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "error_class_for_type",
]


class ApiError(Exception):
    """An error the client sees as Anthropic's `{"type":"error","error":{...}}` body."""

    default_status: ClassVar[int] = 500
    default_error_type: ClassVar[str] = "api_error"
    # The `x-should-retry` this kind of error carries unless the raiser says otherwise (None: no header).
    default_should_retry: ClassVar[bool | None] = None

    status: int
    error_type: str
    message: str
    headers: dict[str, str]

    def __init__(
        self,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = self.default_status
        self.error_type = self.default_error_type
        self.message = message
        self.headers = dict(headers) if headers else {}
        # `retry_after` (seconds) becomes the `retry-after` header, rounded up to whole seconds.
        if retry_after is not None and retry_after >= 0:
            self.headers["retry-after"] = str(max(1, math.ceil(retry_after)))
        retry = self.default_should_retry if should_retry is None else should_retry
        if retry is not None:
            self.headers.setdefault("x-should-retry", "true" if retry else "false")

    @property
    def should_retry(self) -> bool | None:
        value = self.headers.get("x-should-retry")
        return None if value is None else value == "true"

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
    """429 `billing_error`: the caller's own spend cap (or one their tenant shares) is reached. The
    gateway protocol puts it on 429 with `x-should-retry: false`, so the SDK never retries into the block."""


class PermissionDeniedError(ApiError):
    pass


class NotFoundError(ApiError):
    pass


class RequestTooLargeError(ApiError):
    pass


class RateLimitError(ApiError):
    """429 throttling; send `retry_after` (seconds) so the client waits as long as it must."""

    retry_after: float | None

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message, headers=headers, retry_after=retry_after, should_retry=should_retry)
        self.retry_after = retry_after


class ApiInternalError(ApiError):
    pass


class NotSupportedError(ApiError):
    """501 `not_supported`: this backend cannot do what was asked (the client then falls back)."""


class GatewayTimeoutError(ApiError):
    pass


class OverloadedError(ApiError):
    pass


# The one table: class -> (HTTP status, Anthropic error type, default x-should-retry). Anthropic's API
# reference and Claude Code's gateway protocol (docs/gateway-contract.md) document every pair below.
ERROR_TABLE: Final[dict[type[ApiError], tuple[int, str, bool | None]]] = {
    InvalidRequestError: (400, "invalid_request_error", None),
    AuthenticationError: (401, "authentication_error", None),
    PermissionDeniedError: (403, "permission_error", None),
    NotFoundError: (404, "not_found_error", None),
    RequestTooLargeError: (413, "request_too_large", None),
    RateLimitError: (429, "rate_limit_error", True),
    BillingError: (429, "billing_error", False),
    ApiInternalError: (500, "api_error", True),
    NotSupportedError: (501, "not_supported", False),
    GatewayTimeoutError: (504, "timeout_error", True),
    OverloadedError: (529, "overloaded_error", True),
}

for _cls, (_status, _type, _retry) in ERROR_TABLE.items():
    _cls.default_status = _status
    _cls.default_error_type = _type
    _cls.default_should_retry = _retry

_CLASS_BY_TYPE: Final[dict[str, type[ApiError]]] = {etype: cls for cls, (_, etype, _) in ERROR_TABLE.items()}


def error_class_for_type(error_type: str) -> type[ApiError]:
    """The class for an Anthropic error type string (unknown types are `ApiInternalError`)."""
    return _CLASS_BY_TYPE.get(error_type, ApiInternalError)
