"""The error hierarchy: Anthropic's status/type pairs, bodies, retry-after and x-should-retry."""

from __future__ import annotations

import json

import pytest

from router.wire.errors import (
    ERROR_TABLE,
    ApiError,
    ApiInternalError,
    AuthenticationError,
    BillingError,
    GatewayTimeoutError,
    InvalidRequestError,
    NotFoundError,
    NotSupportedError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    error_class_for_type,
)


@pytest.mark.parametrize(
    ("cls", "status", "error_type"),
    [
        (InvalidRequestError, 400, "invalid_request_error"),
        (AuthenticationError, 401, "authentication_error"),
        (BillingError, 429, "billing_error"),
        (PermissionDeniedError, 403, "permission_error"),
        (NotFoundError, 404, "not_found_error"),
        (RequestTooLargeError, 413, "request_too_large"),
        (RateLimitError, 429, "rate_limit_error"),
        (ApiInternalError, 500, "api_error"),
        (NotSupportedError, 501, "not_supported"),
        (GatewayTimeoutError, 504, "timeout_error"),
        (OverloadedError, 529, "overloaded_error"),
    ],
)
def test_each_error_carries_anthropics_status_and_type(
    cls: type[ApiError], status: int, error_type: str
) -> None:
    error = cls("went wrong")
    assert (error.status, error.error_type, error.message) == (status, error_type, "went wrong")
    assert error.body() == {"type": "error", "error": {"type": error_type, "message": "went wrong"}}
    assert json.loads(error.to_bytes()) == error.body()
    assert error_class_for_type(error_type) is cls
    assert isinstance(error, ApiError) and isinstance(error, Exception)


def test_the_table_covers_every_subclass_once() -> None:
    assert set(ERROR_TABLE) == set(ApiError.__subclasses__())
    assert len({etype for _, etype, _ in ERROR_TABLE.values()}) == len(ERROR_TABLE)


def test_rate_limit_sets_retry_after_rounded_up_to_whole_seconds() -> None:
    assert RateLimitError("slow down", retry_after=2.1).headers["retry-after"] == "3"
    assert RateLimitError("slow down", retry_after=0).headers["retry-after"] == "1"
    assert "retry-after" not in RateLimitError("slow down").headers


@pytest.mark.parametrize(
    ("error", "should_retry"),
    [
        (RateLimitError("slow down"), "true"),
        (OverloadedError("busy"), "true"),
        (ApiInternalError("boom"), "true"),
        (GatewayTimeoutError("late"), "true"),
        (BillingError("spent"), "false"),
        (NotSupportedError("not here"), "false"),
        (AuthenticationError("expired", should_retry=False), "false"),
        (InvalidRequestError("bad"), None),
        (AuthenticationError("unknown key"), None),
    ],
)
def test_x_should_retry_follows_the_table_unless_the_raiser_says(
    error: ApiError, should_retry: str | None
) -> None:
    assert error.headers.get("x-should-retry") == should_retry


def test_headers_are_copied_not_shared() -> None:
    given = {"x-request-id": "r1"}
    error = InvalidRequestError("boom", headers=given)
    error.headers["other"] = "1"
    assert given == {"x-request-id": "r1"}
