"""Every upstream failure, classified into a `ProviderError` in one place, with credentials scrubbed.

Classification only says *what* failed (a `Failure`, the upstream status, retry-after, a context
overflow's counts); what follows from it (retry, larger window, which client error) is
`router.providers.policy.POLICY`'s alone.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import msgspec

from router.providers.base import ProviderError
from router.providers.policy import Failure, prompt_counts

__all__ = [
    "classify_exception",
    "classify_http",
    "classify_payload_error",
    "connection_error",
    "credential_rejected",
    "is_context_window_message",
    "not_json",
    "parse_retry_after",
    "scrub",
    "timeout_error",
]

# What the big providers say when the prompt does not fit (lower-cased substrings).
_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "prompt is too long",
    "exceeds the maximum number of tokens",
    "maximum context length",
    "context window",
    "input is too long",
    "too many input tokens",
)
_MAX_MESSAGE = 500
# LiteLLM's wording when a provider's 200 body cannot be turned into a response.
_LITELLM_UNPARSEABLE = "Error converting to valid response"

# Things that look like secrets in upstream messages and URLs.
_SECRET_PATTERNS = (
    re.compile(r"sk-[A-Za-z0-9_\-]{6,}"),
    re.compile(r"AIza[0-9A-Za-z_\-]{10,}"),
    re.compile(r"(?i)\b(key|api[-_]?key|access_token|token|sig)=[^&\s\"']+"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._\-]+"),
)


def scrub(text: str, credential: str | None = None) -> str:
    """`text` without the provider credential and without anything that looks like a key."""
    if credential:
        text = text.replace(credential, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(_mask, text)
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + "…"
    return text


def _mask(match: re.Match[str]) -> str:
    found = match.group(0)
    if "=" in found:
        return found.split("=", 1)[0] + "=***"
    if found.lower().startswith("bearer"):
        return "Bearer ***"
    return "***"


def is_context_window_message(message: str) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in _CONTEXT_MARKERS)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from `retry-after-ms` (OpenAI, Azure) or `retry-after` (seconds or an HTTP date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def _error_fields(body: Any) -> tuple[str | None, str | None]:
    """(message, code/type) from OpenAI, Azure, Gemini or Anthropic error bodies."""
    if not isinstance(body, Mapping):
        return None, None
    error = body.get("error", body)
    if isinstance(error, str):
        return error, None
    if not isinstance(error, Mapping):
        return None, None
    message = error.get("message")
    code = error.get("code") or error.get("type") or error.get("status")
    return (str(message) if message is not None else None), (str(code) if code is not None else None)


def _message_from_bytes(raw: bytes) -> tuple[str, str | None]:
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return raw.decode("utf-8", "replace").strip(), None
    message, code = _error_fields(body)
    if message is None:
        return raw.decode("utf-8", "replace").strip(), code
    return message, code


def _context_window(status: int, text: str, raw_message: str) -> ProviderError:
    prompt_tokens, window = prompt_counts(raw_message)
    return ProviderError(
        status, text, failure=Failure.CONTEXT_WINDOW, prompt_tokens=prompt_tokens, window=window
    )


def credential_rejected(status: int, message: str) -> ProviderError:
    """Upstream 401/403: the router's own provider credential is wrong, a server-side failure."""
    return ProviderError(
        status,
        f"the upstream rejected the provider's credential (HTTP {status}): {message}",
        failure=Failure.CREDENTIAL,
    )


def classify_http(
    status: int, raw: bytes, headers: Mapping[str, str] | None, credential: str | None, where: str
) -> ProviderError:
    """A non-2xx upstream answer."""
    message, code = _message_from_bytes(raw)
    message = scrub(message or f"HTTP {status}", credential)
    text = f"{where}: {message}"
    if status in (401, 403):
        return credential_rejected(status, text)
    context = is_context_window_message(message) or (code or "") == "context_length_exceeded"
    if context and status < 500:
        return _context_window(status, text, message)
    # Anthropic's own 400/413 wording is relayed as it is: Claude Code's recovery (stripping thinking
    # blocks, images, betas ...) matches it, some of it as the whole message (gateway protocol, Errors).
    relay = message if status in (400, 413) and _is_anthropic_envelope(raw) else None
    return ProviderError(status, text, retry_after=parse_retry_after(headers), relay=relay)


def _is_anthropic_envelope(raw: bytes) -> bool:
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return False
    return isinstance(body, dict) and body.get("type") == "error" and isinstance(body.get("error"), dict)


def classify_payload_error(body: Mapping[str, Any], credential: str | None, where: str) -> ProviderError:
    """A 200 whose payload is an error object (some gateways do that, streams always do)."""
    message, code = _error_fields(body)
    message = scrub(message or "the upstream returned an error payload", credential)
    text = f"{where}: {message}"
    if is_context_window_message(message) or code == "context_length_exceeded":
        return _context_window(400, text, message)
    if code in ("overloaded_error", "529"):
        return ProviderError(529, text, failure=Failure.OVERLOADED)
    return ProviderError(502, text, failure=Failure.BAD_RESPONSE)


def not_json(status: int, raw: bytes, credential: str | None, where: str) -> ProviderError:
    snippet = scrub(raw[:200].decode("utf-8", "replace").strip(), credential)
    return ProviderError(
        502,
        f"{where}: the upstream answered HTTP {status} with a body that is not JSON: {snippet}",
        failure=Failure.BAD_RESPONSE,
    )


def timeout_error(where: str, what: str) -> ProviderError:
    return ProviderError(504, f"{where}: {what}", failure=Failure.TIMEOUT)


def connection_error(where: str, exc: BaseException, credential: str | None) -> ProviderError:
    detail = scrub(str(exc) or type(exc).__name__, credential)
    return ProviderError(
        502, f"{where}: connection to the upstream failed: {detail}", failure=Failure.UNREACHABLE
    )


def classify_exception(exc: BaseException, credential: str | None, where: str) -> ProviderError:
    """Transport failures (aiohttp, asyncio) and LiteLLM's exception classes."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return timeout_error(where, "the upstream did not answer in time")
    if isinstance(exc, (aiohttp.ClientError, ConnectionError, OSError)):
        return connection_error(where, exc, credential)
    return _classify_litellm(exc, credential, where)


# How LiteLLM's APIConnectionError words "there was no connection at all" (aiohttp and httpx spellings).
_NO_CONNECTION = re.compile(
    r"Cannot connect to host|Connect call failed|Connection refused|ConnectError|"
    r"Name or service not known|nodename nor servname|No route to host|Temporary failure in name resolution"
)


def _classify_litellm(exc: BaseException, credential: str | None, where: str) -> ProviderError:
    """LiteLLM raises OpenAI-SDK-style exceptions carrying `status_code`; the class names say the rest."""
    original = getattr(exc, "original_exception", None)
    if isinstance(original, Exception) and original is not exc:
        # MidStreamFallbackError wraps what really happened (a 429 with its headers, say).
        return classify_exception(original, credential, where)
    name = type(exc).__name__
    names = {cls.__name__ for cls in type(exc).__mro__}
    raw_message = str(getattr(exc, "message", None) or exc or name)
    message = scrub(raw_message, credential)
    text = f"{where}: {message}"
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    if "ContextWindowExceededError" in names or is_context_window_message(raw_message):
        return _context_window(400, text, raw_message)
    if "Timeout" in names or "APITimeoutError" in names:
        return timeout_error(where, message)
    if "AuthenticationError" in names or "PermissionDeniedError" in names or status in (401, 403):
        return credential_rejected(status or 401, text)
    if "RateLimitError" in names:
        return ProviderError(429, text, retry_after=parse_retry_after(_litellm_headers(exc)))
    if _LITELLM_UNPARSEABLE in raw_message:
        # LiteLLM could not read the upstream's 200 (not JSON, or an error payload): like not_json().
        return ProviderError(502, text, failure=Failure.BAD_RESPONSE)
    if "APIConnectionError" in names and status in (None, 500):
        unreachable = _NO_CONNECTION.search(raw_message) is not None
        return ProviderError(502, text, failure=Failure.UNREACHABLE if unreachable else Failure.BAD_RESPONSE)
    if status is not None:
        return ProviderError(status, text, retry_after=parse_retry_after(_litellm_headers(exc)))
    if "BadRequestError" in names or "UnprocessableEntityError" in names:
        return ProviderError(400, text)
    # Anything else from inside LiteLLM: the upstream call did not work; another target may.
    return ProviderError(502, f"{where}: {name}: {message}", failure=Failure.BAD_RESPONSE)


def _litellm_headers(exc: BaseException) -> dict[str, str] | None:
    headers = getattr(exc, "litellm_response_headers", None) or getattr(exc, "headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    try:
        return {str(k): str(v) for k, v in dict(headers).items()} if headers else None
    except (TypeError, ValueError):
        return None
