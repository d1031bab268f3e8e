"""What may reach an upstream call besides the translated request: allow-lists, in one place.

The client's request never names a call argument: every path builds its call from the route (provider
spec, target) and the translated generation parameters, filtered through `GENERATION_PARAMS`.
`provider.extra_params` is admin-set configuration; it may add the keys below and nothing else:

- `extra_headers` (dict): extra HTTP headers on every call to that provider. Headers that carry
  credentials or framing (authorization, api-key, x-api-key, x-goog-api-key, host, content-length,
  content-type) are ignored: the credential only ever comes from the provider's own field.
- OpenAI-wire providers: `seed`, `frequency_penalty`, `presence_penalty`, `service_tier`,
  `prompt_cache_key` (added to the body when the request does not already set them).
- LiteLLM providers: the connection settings an admin sets explicitly for providers that need more than
  a base URL and a key (the secret ones — `vertex_credentials`, `aws_access_key_id`,
  `aws_secret_access_key`, `aws_session_token` — belong in the provider's credential as a JSON object,
  which is encrypted at rest; `credential_kwargs` unpacks it) — Vertex AI (`vertex_project`,
  `vertex_location`, `vertex_credentials`), Bedrock
  (`aws_region_name`, `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`,
  `aws_role_name`, `aws_session_name`, `aws_profile_name`, `aws_bedrock_runtime_endpoint`), OpenAI-style
  `organization`, plus model options (`safety_settings`, `num_ctx`, `keep_alive`, `seed`,
  `frequency_penalty`, `presence_penalty`, `response_format`). Never `api_base`, `api_key`, `base_url`,
  `custom_llm_provider`, `mock_response`, callbacks or logging options: the base URL and key come from
  the provider's own fields, and the rest has no business on a production call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "GENERATION_PARAMS",
    "LITELLM_EXTRAS",
    "OPENAI_WIRE_BODY_EXTRAS",
    "credential_kwargs",
    "extra_headers",
    "litellm_extras",
]

# Translated generation parameters that may become litellm.acompletion kwargs.
GENERATION_PARAMS: Final = frozenset(
    {
        "messages",
        "tools",
        "tool_choice",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop",
        "reasoning_effort",
        "thinking",
        "parallel_tool_calls",
        "user",
        "stream",
        "stream_options",
    }
)

OPENAI_WIRE_BODY_EXTRAS: Final = frozenset(
    {"seed", "frequency_penalty", "presence_penalty", "service_tier", "prompt_cache_key"}
)

LITELLM_EXTRAS: Final = frozenset(
    {
        "vertex_project",
        "vertex_location",
        "vertex_credentials",
        "aws_region_name",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_role_name",
        "aws_session_name",
        "aws_profile_name",
        "aws_bedrock_runtime_endpoint",
        "organization",
        "safety_settings",
        "num_ctx",
        "keep_alive",
        "seed",
        "frequency_penalty",
        "presence_penalty",
        "response_format",
    }
)

_FORBIDDEN_HEADERS: Final = frozenset(
    {
        "authorization",
        "api-key",
        "x-api-key",
        "x-goog-api-key",
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
    }
)


def extra_headers(extra_params: Mapping[str, Any]) -> dict[str, str]:
    raw = extra_params.get("extra_headers")
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): str(v) for k, v in raw.items() if str(k).lower() not in _FORBIDDEN_HEADERS}


def litellm_extras(extra_params: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in extra_params.items() if k in LITELLM_EXTRAS}
    headers = extra_headers(extra_params)
    if headers:
        out["extra_headers"] = headers
    return out


def credential_kwargs(credential: str | None) -> dict[str, Any]:
    """A credential that is a JSON object (Bedrock keys, Vertex service account) as allow-listed kwargs.

    Plain string credentials give {} (they are the provider's api_key).
    """
    if not credential or not credential.lstrip().startswith("{"):
        return {}
    try:
        parsed = json.loads(credential)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {k: v for k, v in parsed.items() if k in LITELLM_EXTRAS}
