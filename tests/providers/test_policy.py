"""The one upstream-error policy: every failure kind has one row, and the client's error follows from it."""

from __future__ import annotations

import pytest

from router.providers.base import ProviderError
from router.providers.policy import POLICY, Failure, client_error, failure_for_status, prompt_counts


def test_every_failure_kind_has_exactly_one_row() -> None:
    assert set(POLICY) == set(Failure)


@pytest.mark.parametrize(
    ("status", "failure", "client_status", "error_type", "should_retry"),
    [
        (400, Failure.BAD_REQUEST, 400, "invalid_request_error", None),
        (401, Failure.CREDENTIAL, 500, "api_error", "true"),
        (403, Failure.CREDENTIAL, 500, "api_error", "true"),
        (404, Failure.NOT_FOUND, 404, "not_found_error", None),
        (413, Failure.TOO_LARGE, 413, "request_too_large", None),
        (429, Failure.RATE_LIMITED, 429, "rate_limit_error", "true"),
        (500, Failure.UPSTREAM, 500, "api_error", "true"),
        (501, Failure.NOT_SUPPORTED, 501, "not_supported", "false"),
        (503, Failure.OVERLOADED, 529, "overloaded_error", "true"),
        (504, Failure.TIMEOUT, 504, "timeout_error", "true"),
        (529, Failure.OVERLOADED, 529, "overloaded_error", "true"),
        (418, Failure.BAD_REQUEST, 400, "invalid_request_error", None),
    ],
)
def test_an_upstream_status_decides_the_client_error_and_x_should_retry(
    status: int, failure: Failure, client_status: int, error_type: str, should_retry: str | None
) -> None:
    assert failure_for_status(status) is failure
    error = client_error(ProviderError(status, "t: upstream says no"))
    assert (error.status, error.error_type) == (client_status, error_type)
    assert error.headers.get("x-should-retry") == should_retry


def test_upstream_retry_after_reaches_the_client() -> None:
    error = client_error(ProviderError(429, "busy", retry_after=7))
    assert error.headers["retry-after"] == "7"


@pytest.mark.parametrize(
    ("message", "counts"),
    [
        ("prompt is too long: 210000 tokens > 200000 maximum", (210000, 200000)),
        (
            "This model's maximum context length is 128000 tokens. However, your messages resulted in "
            "131072 tokens. Please reduce the length of the messages.",
            (131072, 128000),
        ),
        (
            "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens "
            "(8000 in the messages, 1000 in the completion).",
            (8000, 8192),
        ),
        (
            "Input tokens exceed the configured limit of 272000 tokens. Your messages resulted in 300000 "
            "tokens. Please reduce the length of the messages.",
            (300000, 272000),
        ),
        (
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            (1200000, 1048576),
        ),
        ("Input is too long for requested model.", (None, None)),
    ],
)
def test_each_providers_overflow_wording_gives_its_counts(
    message: str, counts: tuple[int | None, int | None]
) -> None:
    assert prompt_counts(message) == counts


def test_overflow_is_worded_like_anthropic_with_the_providers_counts() -> None:
    error = ProviderError(400, "x", failure=Failure.CONTEXT_WINDOW, prompt_tokens=131072, window=128000)
    api = client_error(error, prompt_tokens_estimate=5, window=64)
    assert (api.status, api.error_type) == (400, "invalid_request_error")
    assert api.message == "prompt is too long: 131072 tokens > 128000 maximum"


def test_overflow_without_counts_uses_the_estimate_and_never_claims_it_fits() -> None:
    error = ProviderError(400, "x", failure=Failure.CONTEXT_WINDOW)
    assert client_error(error, prompt_tokens_estimate=900, window=800).message == (
        "prompt is too long: 900 tokens > 800 maximum"
    )
    assert client_error(error, prompt_tokens_estimate=500, window=800).message == (
        "prompt is too long: 801 tokens > 800 maximum"
    )
    assert client_error(error).message == "prompt is too long"


def test_client_messages_carry_no_exception_class_names() -> None:
    error = ProviderError(
        400,
        "gem/gemini-2.5-pro: litellm.BadRequestError: VertexAIException BadRequestError - bad field",
    )
    assert client_error(error).message == "gem/gemini-2.5-pro: bad field"
    assert client_error(ProviderError(502, "t: Error converting to valid response")).message == (
        "t: Error converting to valid response"
    )


def test_anthropics_own_wording_is_relayed_word_for_word() -> None:
    error = ProviderError(
        400, "ant/claude: Input is too long.", relay="Invalid `signature` in `thinking` block"
    )
    assert client_error(error).message == "Invalid `signature` in `thinking` block"
