"""The error hierarchy: Anthropic's status/type pairs, bodies, retry-after, upstream status mapping."""

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
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    error_class_for_type,
    error_for_status,
)


@pytest.mark.parametrize(
    ("cls", "status", "error_type"),
    [
        (InvalidRequestError, 400, "invalid_request_error"),
        (AuthenticationError, 401, "authentication_error"),
        (BillingError, 402, "billing_error"),
        (PermissionDeniedError, 403, "permission_error"),
        (NotFoundError, 404, "not_found_error"),
        (RequestTooLargeError, 413, "request_too_large"),
        (RateLimitError, 429, "rate_limit_error"),
        (ApiInternalError, 500, "api_error"),
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
    assert len({etype for _, etype in ERROR_TABLE.values()}) == len(ERROR_TABLE)


def test_rate_limit_sets_retry_after_rounded_up_to_whole_seconds() -> None:
    assert RateLimitError("slow down", retry_after=2.1).headers == {"retry-after": "3"}
    assert RateLimitError("slow down", retry_after=0).headers == {"retry-after": "1"}
    assert RateLimitError("slow down").headers == {}


def test_headers_are_copied_not_shared() -> None:
    given = {"x-request-id": "r1"}
    error = ApiInternalError("boom", headers=given)
    error.headers["other"] = "1"
    assert given == {"x-request-id": "r1"}


@pytest.mark.parametrize(
    ("status", "cls", "error_type"),
    [
        (400, InvalidRequestError, "invalid_request_error"),
        (422, InvalidRequestError, "invalid_request_error"),
        (418, InvalidRequestError, "invalid_request_error"),
        (404, NotFoundError, "not_found_error"),
        (408, GatewayTimeoutError, "timeout_error"),
        (504, GatewayTimeoutError, "timeout_error"),
        (413, RequestTooLargeError, "request_too_large"),
        (429, RateLimitError, "rate_limit_error"),
        (503, OverloadedError, "overloaded_error"),
        (529, OverloadedError, "overloaded_error"),
        (500, ApiInternalError, "api_error"),
        (502, ApiInternalError, "api_error"),
    ],
)
def test_upstream_status_maps_to_the_client_facing_error(
    status: int, cls: type[ApiError], error_type: str
) -> None:
    error = error_for_status(status, "upstream says no")
    assert type(error) is cls and error.error_type == error_type
    assert error.message == "upstream says no"


@pytest.mark.parametrize("status", [401, 403])
def test_upstream_credential_rejection_is_our_server_error(status: int) -> None:
    error = error_for_status(status, "invalid api key")
    assert (error.status, error.error_type) == (500, "api_error")
    assert "provider credential" in error.message and "invalid api key" in error.message


def test_upstream_429_keeps_retry_after() -> None:
    error = error_for_status(429, "busy", retry_after=7)
    assert isinstance(error, RateLimitError) and error.headers["retry-after"] == "7"
