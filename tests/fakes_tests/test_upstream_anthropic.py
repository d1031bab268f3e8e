"""The fake's Anthropic Messages endpoint, read by the official anthropic SDK."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import pytest

from tests.fakes import Fail, FakeUpstream, Reply, ToolCall, estimate_tokens, signature_for

MESSAGES: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
TOOLS: list[Any] = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}]


def _client(fake: FakeUpstream) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=fake.base_url, api_key="sk-ant-test", max_retries=0)


def _reply() -> Reply:
    return Reply(
        text="Looking that up for you.",
        reasoning="The user wants weather; call the tool.",
        tool_calls=[ToolCall("get_weather", {"city": "Paris", "days": [1, 2]}, id="toolu_fixed1")],
        input_tokens=120,
        output_tokens=30,
        cached_tokens=100,
    )


async def test_non_stream_message_has_thinking_text_and_tool_use_blocks(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(_reply(), model="claude-sonnet-4-5")
    msg = await _client(fake_upstream).messages.create(
        model="claude-sonnet-4-5", max_tokens=256, messages=MESSAGES, tools=TOOLS
    )

    assert msg.id.startswith("msg_") and msg.model == "claude-sonnet-4-5"
    assert [b.type for b in msg.content] == ["thinking", "text", "tool_use"]
    thinking, text, tool = msg.content
    assert thinking.type == "thinking" and thinking.thinking == "The user wants weather; call the tool."
    assert thinking.signature == signature_for(thinking.thinking)
    assert text.type == "text" and text.text == "Looking that up for you."
    assert (
        tool.type == "tool_use"
        and tool.id == "toolu_fixed1"
        and tool.input == {"city": "Paris", "days": [1, 2]}
    )
    assert msg.stop_reason == "tool_use"
    # input_tokens means the whole prompt in a Reply; Anthropic reports cache reads apart from it.
    assert (msg.usage.input_tokens, msg.usage.cache_read_input_tokens, msg.usage.output_tokens) == (
        20,
        100,
        30,
    )
    recorded = fake_upstream.requests_for("anthropic", "claude-sonnet-4-5")[0]
    assert recorded.path == "/v1/messages"
    # SDK 2.x sends the key as a bearer token; older ones as x-api-key. The fake accepts and records both.
    sent = recorded.headers.get("x-api-key") or recorded.headers["authorization"].removeprefix("Bearer ")
    assert sent == "sk-ant-test"
    assert "anthropic-version" in recorded.headers


async def test_stream_final_message_equals_the_non_stream_message(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(_reply(), _reply())
    client = _client(fake_upstream)
    plain = await client.messages.create(model="claude-x", max_tokens=256, messages=MESSAGES, tools=TOOLS)
    async with client.messages.stream(
        model="claude-x", max_tokens=256, messages=MESSAGES, tools=TOOLS
    ) as stream:
        final = await stream.get_final_message()

    assert [b.model_dump() for b in final.content] == [b.model_dump() for b in plain.content]
    assert final.stop_reason == plain.stop_reason == "tool_use"
    assert final.usage.model_dump() == plain.usage.model_dump()
    assert fake_upstream.requests[-1].stream is True


async def test_stream_follows_the_documented_event_sequence(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply(text="abcdefghij", tool_calls=[ToolCall("t", {"k": "a long enough value"})]))
    # Raw SSE on purpose: the SDK hides ping events.
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            fake_upstream.base_url + "/v1/messages",
            json={"model": "c", "max_tokens": 64, "messages": MESSAGES, "stream": True},
            headers={"x-api-key": "k"},
        )
    assert resp.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in resp.text.split("\n\n") if f]
    events: list[tuple[str, dict[str, Any]]] = []
    for frame in frames:
        event_line, data_line = frame.split("\n")
        kind = event_line.removeprefix("event: ")
        data = json.loads(data_line.removeprefix("data: "))
        assert data["type"] == kind
        events.append((kind, data))
    kinds = [k for k, _ in events]

    assert kinds[:3] == ["message_start", "content_block_start", "ping"]
    assert kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 2
    deltas = [d["delta"] for k, d in events if k == "content_block_delta"]
    assert [d["text"] for d in deltas if d["type"] == "text_delta"] == ["abcdefg", "hij"]
    json_pieces = [d["partial_json"] for d in deltas if d["type"] == "input_json_delta"]
    assert len([p for p in json_pieces if p]) > 1  # tool input arrives in several fragments
    assert json.loads("".join(json_pieces)) == {"k": "a long enough value"}


async def test_stream_without_usage_omits_usage_everywhere(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply(text="no usage here", stream_usage=False))
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            fake_upstream.base_url + "/v1/messages",
            json={"model": "c", "max_tokens": 5, "messages": MESSAGES, "stream": True},
            headers={"x-api-key": "k"},
        )
    assert resp.status_code == 200 and "message_stop" in resp.text
    assert '"usage"' not in resp.text


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (529, anthropic.OverloadedError, "overloaded_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (500, anthropic.InternalServerError, "api_error"),
    ],
)
async def test_failures_use_anthropic_error_shape(
    fake_upstream: FakeUpstream, status: int, error_class: type[anthropic.APIStatusError], error_type: str
) -> None:
    fake_upstream.script(Fail(status, "nope", headers={"retry-after": "2"}))
    with pytest.raises(error_class) as caught:
        await _client(fake_upstream).messages.create(model="c", max_tokens=5, messages=MESSAGES)
    assert caught.value.status_code == status
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"] == {"type": error_type, "message": "nope"}
    assert caught.value.response.headers["retry-after"] == "2"


async def test_count_tokens_answers_the_body_size_estimate(fake_upstream: FakeUpstream) -> None:
    counted = await _client(fake_upstream).messages.count_tokens(model="claude-x", messages=MESSAGES)
    recorded = fake_upstream.requests[-1]
    assert recorded.path == "/v1/messages/count_tokens" and recorded.model == "claude-x"
    assert counted.input_tokens == estimate_tokens(len(recorded.body))


async def test_missing_api_key_is_401_authentication_error(fake_upstream: FakeUpstream) -> None:
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            fake_upstream.base_url + "/v1/messages", json={"model": "c", "messages": MESSAGES}
        )
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "authentication_error"
