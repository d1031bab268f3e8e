"""The one upstream-error policy: what each kind of upstream failure means for the route and the client.

A provider call that fails is classified once (`router.providers.errors`) into a `Failure`. This table
then decides everything that follows from it, in one place:

- `retryable`: try this target again (the chain's retries) and then the next one;
- `larger_window`: skip to the next target with a larger context window;
- `client`: the Anthropic error the client gets when this was the route's last failure (its status, type
  and `x-should-retry` come from `router.wire.errors.ERROR_TABLE`, unless `should_retry` overrides it).

Anything that is neither retryable nor a window problem is final: the request is wrong everywhere.
Pure: no I/O, no LiteLLM, no web framework.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol

from router.wire.errors import (
    ApiError,
    ApiInternalError,
    GatewayTimeoutError,
    InvalidRequestError,
    NotFoundError,
    NotSupportedError,
    OverloadedError,
    RateLimitError,
    RequestTooLargeError,
)

__all__ = [
    "POLICY",
    "Failure",
    "Policy",
    "client_error",
    "context_overflow_message",
    "failure_for_status",
    "prompt_counts",
]


class Failure(StrEnum):
    """What went wrong upstream, independent of how the provider spelled it."""

    BAD_REQUEST = "bad_request"  # the upstream refused the request itself (400, 422, other 4xx)
    CONTEXT_WINDOW = "context_window"  # the prompt does not fit this target's context window
    NOT_FOUND = "not_found"  # 404: the model or deployment is unknown upstream
    TOO_LARGE = "too_large"  # 413: the body is over the upstream's size cap
    NOT_SUPPORTED = "not_supported"  # 501: this backend does not offer what was asked
    CREDENTIAL = "credential"  # 401/403: the router's own provider credential was refused
    MISCONFIGURED = "misconfigured"  # the provider cannot be called as configured (no base URL, say)
    RATE_LIMITED = "rate_limited"  # 429
    OVERLOADED = "overloaded"  # 503 / 529: the upstream is at capacity
    TIMEOUT = "timeout"  # 408 / 504, or no answer (or no next chunk) within our deadlines
    UPSTREAM = "upstream"  # any other 5xx (and 409)
    BAD_RESPONSE = "bad_response"  # not JSON, an error inside a 200, a stream cut short
    # The answer (non-streamed body, or one stream line) passed the router's size caps: cut, not read whole.
    ANSWER_TOO_LARGE = "upstream_too_large"
    UNREACHABLE = "unreachable"  # no connection: refused, reset, DNS; the client never sees host or port


@dataclass(frozen=True, slots=True)
class Policy:
    retryable: bool
    larger_window: bool
    client: type[ApiError]
    # None: the client error's own default (router.wire.errors.ERROR_TABLE).
    should_retry: bool | None = None


# The one table. An upstream 401/403 is the router's credential being wrong: our server-side failure, so
# the client gets a 500 and never a hint that its own key was rejected.
POLICY: Final[dict[Failure, Policy]] = {
    Failure.BAD_REQUEST: Policy(retryable=False, larger_window=False, client=InvalidRequestError),
    Failure.CONTEXT_WINDOW: Policy(retryable=False, larger_window=True, client=InvalidRequestError),
    Failure.NOT_FOUND: Policy(retryable=False, larger_window=False, client=NotFoundError),
    Failure.TOO_LARGE: Policy(retryable=False, larger_window=False, client=RequestTooLargeError),
    Failure.NOT_SUPPORTED: Policy(retryable=True, larger_window=False, client=NotSupportedError),
    Failure.CREDENTIAL: Policy(retryable=False, larger_window=False, client=ApiInternalError),
    Failure.MISCONFIGURED: Policy(retryable=False, larger_window=False, client=ApiInternalError),
    Failure.RATE_LIMITED: Policy(retryable=True, larger_window=False, client=RateLimitError),
    Failure.OVERLOADED: Policy(retryable=True, larger_window=False, client=OverloadedError),
    Failure.TIMEOUT: Policy(retryable=True, larger_window=False, client=GatewayTimeoutError),
    Failure.UPSTREAM: Policy(retryable=True, larger_window=False, client=ApiInternalError),
    Failure.BAD_RESPONSE: Policy(retryable=True, larger_window=False, client=ApiInternalError),
    # Another target (or a retry) may well answer within the caps; this one's answer is not kept.
    Failure.ANSWER_TOO_LARGE: Policy(retryable=True, larger_window=False, client=ApiInternalError),
    Failure.UNREACHABLE: Policy(retryable=True, larger_window=False, client=ApiInternalError),
}
# Said to the client instead of the transport's text (which names our upstream's host and port); the
# detail stays in the log and in the request's attempts.
UNREACHABLE_MESSAGE = "upstream unreachable"

_BY_STATUS: Final[dict[int, Failure]] = {
    400: Failure.BAD_REQUEST,
    401: Failure.CREDENTIAL,
    403: Failure.CREDENTIAL,
    404: Failure.NOT_FOUND,
    408: Failure.TIMEOUT,
    409: Failure.UPSTREAM,
    413: Failure.TOO_LARGE,
    422: Failure.BAD_REQUEST,
    429: Failure.RATE_LIMITED,
    501: Failure.NOT_SUPPORTED,
    502: Failure.BAD_RESPONSE,
    503: Failure.OVERLOADED,
    504: Failure.TIMEOUT,
    529: Failure.OVERLOADED,
}


def failure_for_status(status: int) -> Failure:
    """The failure an upstream HTTP status stands for, when nothing more specific is known."""
    found = _BY_STATUS.get(status)
    if found is not None:
        return found
    return Failure.BAD_REQUEST if 400 <= status < 500 else Failure.UPSTREAM


# ---- context overflow in Anthropic's words -----------------------------------------------------------

# How providers report the prompt's size and the window: (prompt tokens, maximum) in named groups.
_COUNT_PATTERNS: Final = (
    # Anthropic: "prompt is too long: 210000 tokens > 200000 maximum"
    re.compile(r"prompt is too long:\s*(?P<n>\d+)\s*tokens\s*>\s*(?P<m>\d+)", re.I),
    # OpenAI / Azure: "This model's maximum context length is 128000 tokens. However, your messages
    # resulted in 130532 tokens." (and "... you requested 140000 tokens (130000 in the messages ...)")
    re.compile(r"maximum context length is (?P<m>\d+) tokens.*?resulted in (?P<n>\d+) tokens", re.I | re.S),
    re.compile(r"maximum context length is (?P<m>\d+) tokens.*?\((?P<n>\d+) in the messages", re.I | re.S),
    # OpenAI (newer models): "Input tokens exceed the configured limit of 272000 tokens. Your messages
    # resulted in 300000 tokens."
    re.compile(r"limit of (?P<m>\d+) tokens.*?resulted in (?P<n>\d+) tokens", re.I | re.S),
    # Gemini: "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
    re.compile(
        r"input token count \(?(?P<n>\d+)\)?.*?exceeds the maximum number of tokens allowed \(?(?P<m>\d+)",
        re.I | re.S,
    ),
    # Bedrock / others: "... 250000 tokens > 200000 maximum", "prompt has 9000 tokens, the limit is 8192"
    re.compile(r"(?P<n>\d+)\s*tokens?\s*>\s*(?P<m>\d+)", re.I),
    re.compile(r"(?P<n>\d+) tokens?,? (?:but |while |and )?the (?:maximum|limit) is (?P<m>\d+)", re.I),
)


def prompt_counts(message: str) -> tuple[int | None, int | None]:
    """(prompt tokens, window) from a provider's context-length message, as far as it says them."""
    for pattern in _COUNT_PATTERNS:
        found = pattern.search(message)
        if found:
            return int(found.group("n")), int(found.group("m"))
    return None, None


def context_overflow_message(prompt_tokens: int | None, window: int | None) -> str:
    """Anthropic's own wording, which Claude Code's recovery (auto-compact, dropping images) keys on."""
    if prompt_tokens is not None and window is not None:
        return f"prompt is too long: {prompt_tokens} tokens > {window} maximum"
    if prompt_tokens is not None:
        return f"prompt is too long: {prompt_tokens} tokens"
    return "prompt is too long"


# ---- the client's error ------------------------------------------------------------------------------

# LiteLLM prefixes messages with its exception chain ("litellm.ContextWindowExceededError:
# litellm.BadRequestError: VertexAIException BadRequestError - ..."): class names mean nothing to a client.
_EXCEPTION_NAME: Final = r"(?:litellm\.)?[A-Z][A-Za-z0-9]*(?:Error|Exception)"
_EXCEPTION_PREFIX: Final = re.compile(rf"{_EXCEPTION_NAME}(?::|\s+-|(?=\s+{_EXCEPTION_NAME}))\s*")


def _clean(message: str) -> str:
    # Some LiteLLM exception texts carry a formatted traceback: the client never sees our stack.
    cut = message.find("Traceback (most recent call last)")
    if cut >= 0:
        message = message[:cut]
    message = _EXCEPTION_PREFIX.sub("", message).strip()
    return message or "upstream error"


class ClassifiedFailure(Protocol):
    """What `client_error` reads of a `router.providers.base.ProviderError`."""

    @property
    def failure(self) -> Failure: ...
    @property
    def message(self) -> str: ...
    @property
    def retry_after(self) -> float | None: ...
    @property
    def prompt_tokens(self) -> int | None: ...
    @property
    def window(self) -> int | None: ...
    @property
    def relay(self) -> str | None: ...


def client_error(
    error: ClassifiedFailure, *, prompt_tokens_estimate: int | None = None, window: int | None = None
) -> ApiError:
    """The Anthropic error the client receives when `error` was the route's last failure.

    For a context overflow, the provider's own counts win; where it gave none, the gateway's estimate of
    the prompt and the last target's configured window stand in."""
    policy = POLICY[error.failure]
    if error.failure is Failure.CONTEXT_WINDOW:
        tokens, limit = error.prompt_tokens, error.window if error.window is not None else window
        if tokens is None and prompt_tokens_estimate is not None:
            # Our estimate is rough; the upstream said it does not fit, so never claim it would.
            tokens = prompt_tokens_estimate if limit is None else max(prompt_tokens_estimate, limit + 1)
        message = context_overflow_message(tokens, limit)
    elif error.failure is Failure.UNREACHABLE:
        message = UNREACHABLE_MESSAGE
    elif error.relay is not None:
        message = error.relay
    else:
        message = _clean(error.message)
    return policy.client(message, retry_after=error.retry_after, should_retry=policy.should_retry)
