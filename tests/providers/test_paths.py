"""Every path (OpenAI, Azure, Gemini through LiteLLM, native Anthropic) against the fake upstream on HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from router.providers import ProviderHub
from router.wire.stream_events import accumulate_stream
from tests.fakes.upstream import FakeUpstream
from tests.fakes.upstream_script import Reply, ToolCall
from tests.providers.support import KINDS, WEATHER_TOOL, collect, credential_of, make_call, make_target

THINKING = {"thinking": {"type": "enabled", "budget_tokens": 2048}}
TOOLS = {"tools": [WEATHER_TOOL]}


def _without_tool_ids(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in block.items() if k != "id"} for block in content]


@pytest.mark.parametrize("kind", KINDS)
async def test_text_reply_reports_the_requested_model(
    hub: ProviderHub, fake: FakeUpstream, kind: str
) -> None:
    fake.script(Reply(text="Sunny and 21 degrees."))
    call = make_call(make_target(kind, fake.base_url))

    message = await hub.complete(call)

    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["model"] == "claude-requested"
    assert message["content"] == [{"type": "text", "text": "Sunny and 21 degrees."}]
    assert message["stop_reason"] == "end_turn"
    if kind == "anthropic":
        assert message["id"].startswith("msg_")  # the upstream's id, kept
    else:
        assert message["id"] == call.message_id
    assert fake.requests[-1].kind == kind


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_fragmented_tool_call_arguments_arrive_whole(
    hub: ProviderHub, fake: FakeUpstream, kind: str, stream: bool
) -> None:
    arguments = {"city": "Paris", "days": [1, 2, 3], "units": "metric"}
    fake.script(Reply(tool_calls=[ToolCall("get_weather", arguments)], chunk_size=3))
    call = make_call(make_target(kind, fake.base_url), stream=stream, body=TOOLS)

    message = accumulate_stream(await collect(hub.stream(call))) if stream else await hub.complete(call)

    tool_uses = [b for b in message["content"] if b["type"] == "tool_use"]
    assert [(b["name"], b["input"]) for b in tool_uses] == [("get_weather", arguments)]
    assert tool_uses[0]["id"].startswith("toolu_")
    assert message["stop_reason"] == "tool_use"
    sent = fake.requests[-1].json
    tool_names = str(sent.get("tools"))
    assert "get_weather" in tool_names


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_reasoning_becomes_a_signed_thinking_block(
    hub: ProviderHub, fake: FakeUpstream, kind: str, stream: bool
) -> None:
    fake.script(Reply(text="It will be sunny.", reasoning="Paris in June is usually warm."))
    call = make_call(make_target(kind, fake.base_url), stream=stream, body=THINKING)

    message = accumulate_stream(await collect(hub.stream(call))) if stream else await hub.complete(call)

    thinking, text = message["content"]
    assert thinking["type"] == "thinking"
    assert thinking["thinking"] == "Paris in June is usually warm."
    assert thinking["signature"]
    assert text == {"type": "text", "text": "It will be sunny."}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_usage_reports_cached_tokens_apart(
    hub: ProviderHub, fake: FakeUpstream, kind: str, stream: bool
) -> None:
    fake.script(Reply(text="ok", input_tokens=1200, cached_tokens=1000, output_tokens=9))
    call = make_call(make_target(kind, fake.base_url), stream=stream)

    event_stream = hub.stream(call) if stream else None
    message = accumulate_stream(await collect(event_stream)) if event_stream else await hub.complete(call)

    usage = message["usage"]
    assert usage["input_tokens"] == 200
    assert usage["cache_read_input_tokens"] == 1000
    assert usage["output_tokens"] == 9
    if event_stream is not None:
        assert event_stream.usage_estimated is False


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_carries_the_same_message_as_the_non_stream_call(
    hub: ProviderHub, fake: FakeUpstream, kind: str
) -> None:
    reply = Reply(
        text="Here is the forecast.",
        reasoning="Check the tool first.",
        tool_calls=[ToolCall("get_weather", {"city": "Lyon"})],
        input_tokens=300,
        output_tokens=40,
        chunk_size=4,
    )
    fake.script(reply, reply)
    target = make_target(kind, fake.base_url)
    body = {**TOOLS, **THINKING}

    whole = await hub.complete(make_call(target, body=body))
    events = await collect(hub.stream(make_call(target, stream=True, body=body)))
    streamed = accumulate_stream(events)

    assert events[0]["type"] == "message_start"
    assert events[0]["message"]["model"] == "claude-requested"
    assert _without_tool_ids(streamed["content"]) == _without_tool_ids(whole["content"])
    assert streamed["stop_reason"] == whole["stop_reason"] == "tool_use"
    assert streamed["usage"]["output_tokens"] == whole["usage"]["output_tokens"] == 40
    assert streamed["usage"]["input_tokens"] == whole["usage"]["input_tokens"] == 300


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_without_upstream_usage_is_marked_estimated(
    hub: ProviderHub, fake: FakeUpstream, kind: str
) -> None:
    if kind == "anthropic":
        pytest.skip("Anthropic streams always carry usage; the native path passes it through")
    if kind == "gemini":
        pytest.skip("LiteLLM fills in usage itself (its own count) when the upstream stream has none")
    fake.script(Reply(text="no usage here", stream_usage=False))
    stream = hub.stream(make_call(make_target(kind, fake.base_url), stream=True))

    message = accumulate_stream(await collect(stream))

    assert stream.usage_estimated is True
    assert message["usage"]["output_tokens"] > 0


async def test_azure_calls_the_deployment_with_its_api_version_and_the_provider_key(
    hub: ProviderHub, fake: FakeUpstream
) -> None:
    call = make_call(make_target("azure", fake.base_url), anthropic_beta="client-beta")

    await hub.complete(call)

    seen = fake.requests[-1]
    assert seen.path == "/openai/deployments/gpt4o-eu/chat/completions"
    assert seen.query == {"api-version": "2024-10-21"}  # the deployment's version wins over the provider's
    assert seen.headers["api-key"] == credential_of("azure")
    assert "authorization" not in seen.headers
    assert "anthropic-beta" not in seen.headers


async def test_openai_sends_bearer_key_and_requests_stream_usage(
    hub: ProviderHub, fake: FakeUpstream
) -> None:
    await collect(hub.stream(make_call(make_target("openai", fake.base_url), stream=True)))

    seen = fake.requests[-1]
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {credential_of('openai')}"
    assert seen.json["stream"] is True
    assert seen.json["stream_options"] == {"include_usage": True}
    assert seen.json["model"] == "gpt-4.1"


async def test_anthropic_native_forwards_beta_header_and_upstream_model(
    hub: ProviderHub, fake: FakeUpstream
) -> None:
    beta = "interleaved-thinking-2025-05-14"
    call = make_call(make_target("anthropic", fake.base_url), anthropic_beta=beta)

    await hub.complete(call)

    seen = fake.requests[-1]
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == credential_of("anthropic")
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.headers["anthropic-beta"] == beta
    assert seen.json["model"] == "claude-sonnet-4-5"


async def test_gemini_thinking_budget_reaches_the_upstream(hub: ProviderHub, fake: FakeUpstream) -> None:
    await hub.complete(make_call(make_target("gemini", fake.base_url), body=THINKING))

    seen = fake.requests[-1]
    assert seen.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert seen.headers["x-goog-api-key"] == credential_of("gemini")
    thinking_config = seen.json["generationConfig"]["thinkingConfig"]
    assert thinking_config["thinkingBudget"] == 2048
    assert thinking_config["includeThoughts"] is True
