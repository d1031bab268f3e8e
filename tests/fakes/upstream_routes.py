"""Which provider an incoming request is for, which model it names, and whether its credentials pass."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Action = Literal["generate", "count", "none"]

# Any prefix before /models/: LiteLLM with a custom api_base calls {api_base}/models/{model}:{method},
# Google's own URL is /v1beta/models/… (and /v1alpha/models/… for Gemini 3).
_GEMINI = re.compile(
    r"(?:.*/)?models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent|countTokens)"
)
_AZURE_DEPLOYMENT = re.compile(r"(?:.*)/openai/deployments/(?P<deployment>[^/]+)/chat/completions")


@dataclass(frozen=True)
class Endpoint:
    kind: str  # openai | azure | gemini | anthropic | unknown
    action: Action
    model: str
    stream: bool
    include_usage: bool = True


def _body_model(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        return str(body["model"])
    return ""


def _body_stream(body: Any) -> bool:
    return isinstance(body, dict) and body.get("stream") is True


def _include_usage(body: Any) -> bool:
    options = body.get("stream_options") if isinstance(body, dict) else None
    return isinstance(options, dict) and options.get("include_usage") is True


def classify(method: str, path: str, body: Any) -> Endpoint:
    if method != "POST":
        return Endpoint("unknown", "none", "", False)
    if m := _GEMINI.fullmatch(path):
        action: Action = "count" if m["method"] == "countTokens" else "generate"
        return Endpoint("gemini", action, m["model"], m["method"] == "streamGenerateContent")
    if m := _AZURE_DEPLOYMENT.fullmatch(path):
        return Endpoint("azure", "generate", m["deployment"], _body_stream(body), _include_usage(body))
    if path.endswith("/chat/completions"):
        # /openai/v1/chat/completions is Azure's v1 API: the deployment travels in the body's "model".
        kind = "azure" if path.startswith("/openai/") else "openai"
        return Endpoint(kind, "generate", _body_model(body), _body_stream(body), _include_usage(body))
    if path.endswith("/messages/count_tokens"):
        return Endpoint("anthropic", "count", _body_model(body), False)
    if path.endswith("/messages"):
        return Endpoint("anthropic", "generate", _body_model(body), _body_stream(body))
    return Endpoint("unknown", "none", _body_model(body), False)


def _bearer(headers: Mapping[str, str]) -> str:
    value = headers.get("authorization", "")
    return value[len("Bearer ") :].strip() if value.lower().startswith("bearer ") else ""


def auth_problem(
    ep: Endpoint, path: str, headers: Mapping[str, str], query: Mapping[str, str]
) -> tuple[int, str] | None:
    """(status, message) the real provider answers for missing credentials, or None when they pass."""
    if ep.kind == "openai" and not _bearer(headers):
        return (
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header.",
        )
    if ep.kind == "azure":
        if not (headers.get("api-key") or _bearer(headers)):
            return 401, "Access denied due to missing subscription key."
        if _AZURE_DEPLOYMENT.fullmatch(path) and not query.get("api-version"):
            return 404, "Resource not found"
    if ep.kind == "gemini" and not (query.get("key") or headers.get("x-goog-api-key")):
        return (
            403,
            (
                "Method doesn't allow unregistered callers. "
                "Please use API Key or other form of API consumer identity."
            ),
        )
    if ep.kind == "anthropic" and not (headers.get("x-api-key") or _bearer(headers)):
        return 401, "x-api-key header is required"
    return None
