"""Targets per path pointed at the fake upstream, UpstreamCall builders, and stream collection."""

from __future__ import annotations

import json
import socket
from typing import Any, cast

from router.providers import EventStream, UpstreamCall
from router.routing.model import DeploymentSpec, ProviderSpec, Target
from router.wire.requests import decode_request
from router.wire.responses import new_message_id
from router.wire.stream_events import StreamValidator

OPENAI_KEY = "sk-test-openai-0123456789abcdef"
AZURE_KEY = "azure-secret-0123456789"
GEMINI_KEY = "AIzaFakeGeminiKey0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef"

KINDS = ("openai", "azure", "gemini", "anthropic")
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def make_target(kind: str, base_url: str, **extra: Any) -> Target:
    """The Target for `kind` against the fake (or any base URL); `extra` goes to ProviderSpec.extra_params."""
    if kind == "openai":
        spec = ProviderSpec(1, "oai", "openai", f"{base_url}/v1", None, OPENAI_KEY, extra)
        return Target("openai/gpt-4.1", spec, "gpt-4.1", "gpt-4.1")
    if kind == "azure":
        spec = ProviderSpec(2, "az", "azure", base_url, "2024-06-01", AZURE_KEY, extra)
        dep = DeploymentSpec(1, "gpt4o-eu", "az", "gpt4o-eu", "2024-10-21", "gpt-4o")
        return Target("deployment/gpt4o-eu", spec, "gpt4o-eu", "gpt-4o", deployment=dep)
    if kind == "gemini":
        spec = ProviderSpec(3, "gem", "gemini", f"{base_url}/v1beta", None, GEMINI_KEY, extra)
        return Target("gemini/gemini-2.5-flash", spec, "gemini-2.5-flash", "gemini-2.5-flash")
    if kind == "anthropic":
        spec = ProviderSpec(4, "ant", "anthropic", base_url, None, ANTHROPIC_KEY, extra)
        return Target("anthropic/claude-sonnet-4-5", spec, "claude-sonnet-4-5", "claude-sonnet-4-5")
    raise ValueError(kind)


def credential_of(kind: str) -> str:
    return {"openai": OPENAI_KEY, "azure": AZURE_KEY, "gemini": GEMINI_KEY, "anthropic": ANTHROPIC_KEY}[kind]


def make_call(
    target: Target,
    *,
    stream: bool = False,
    body: dict[str, Any] | None = None,
    first_byte_timeout: float = 10.0,
    timeout: float = 30.0,
    **fields: Any,
) -> UpstreamCall:
    payload: dict[str, Any] = {
        "model": "claude-requested",
        "max_tokens": 4000,
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
    }
    payload.update(body or {})
    payload["stream"] = stream
    raw = json.dumps(payload).encode()
    return UpstreamCall(
        request=decode_request(raw),
        body=raw,
        target=target,
        requested_model="claude-requested",
        message_id=new_message_id(),
        request_id="req-test",
        input_tokens_estimate=len(raw) // 4,
        first_byte_timeout=first_byte_timeout,
        timeout=timeout,
        **fields,
    )


async def collect(stream: EventStream) -> list[dict[str, Any]]:
    """Every event, each checked by the stream validator as it arrives (as plain dicts: tests read any key)."""
    validator = StreamValidator()
    events: list[dict[str, Any]] = []
    async for event in stream:
        validator.feed(event)
        events.append(cast(dict[str, Any], event))
    validator.finish()
    return events


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
