"""Classification that needs no server: retry-after forms, payload errors, LiteLLM exception classes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from router.providers.errors import (
    classify_exception,
    classify_http,
    classify_payload_error,
    parse_retry_after,
)
from router.providers.policy import Failure, client_error
from router.providers.runtime import litellm


def test_retry_after_forms() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)

    assert parse_retry_after({"Retry-After": "12"}) == 12.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    dated = parse_retry_after({"retry-after": later})
    assert dated is not None and 25 < dated <= 30
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_openai_context_code_marks_context_window() -> None:
    body = b'{"error": {"message": "too big", "code": "context_length_exceeded"}}'

    error = classify_http(400, body, {}, None, "t")

    assert error.context_window and not error.retryable


@pytest.mark.parametrize(("status", "retryable"), [(408, True), (409, True), (404, False), (422, False)])
def test_status_table(status: int, retryable: bool) -> None:
    assert classify_http(status, b"{}", {}, None, "t").retryable is retryable


def test_overloaded_error_payload_is_retryable_529() -> None:
    error = classify_payload_error(
        {"type": "error", "error": {"type": "overloaded_error", "message": "x"}}, None, "t"
    )

    assert (error.status, error.retryable) == (529, True)


def test_timeouts_and_connection_errors_are_retryable() -> None:
    timeout = classify_exception(TimeoutError(), None, "t")
    refused = classify_exception(ConnectionRefusedError("refused"), None, "t")

    assert (timeout.status, timeout.retryable) == (504, True)
    assert refused.retryable


def test_litellm_exception_classes() -> None:
    lm = litellm()
    context = lm.ContextWindowExceededError(message="too long", model="m", llm_provider="gemini")
    limited = lm.RateLimitError(message="slow", llm_provider="gemini", model="m")
    auth = lm.AuthenticationError(message="bad key sk-secret-0000000", llm_provider="gemini", model="m")
    unavailable = lm.ServiceUnavailableError(message="down", llm_provider="gemini", model="m")
    bad = lm.BadRequestError(message="nope", model="m", llm_provider="gemini")

    assert classify_exception(context, None, "t").context_window
    assert (
        classify_exception(limited, None, "t").status,
        classify_exception(limited, None, "t").retryable,
    ) == (
        429,
        True,
    )
    rejected = classify_exception(auth, None, "t")
    assert (rejected.failure, rejected.retryable) == (Failure.CREDENTIAL, False)
    assert client_error(rejected).status == 500 and "sk-secret" not in rejected.message
    assert classify_exception(unavailable, None, "t").retryable
    assert not classify_exception(bad, None, "t").retryable
