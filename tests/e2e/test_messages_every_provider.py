"""The Messages API through the router, with the official anthropic SDK, on every provider kind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import pytest

from router.wire.stream_events import validate_stream
from tests.e2e.conftest import CREDENTIALS, Routed
from tests.fakes import Fail, Reply, ToolCall

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _dump(message: Any) -> dict[str, Any]:
    data: dict[str, Any] = message.model_dump(exclude_none=True)
    return data


def test_text_reply_carries_requested_model_and_upstream_usage(routed: Routed) -> None:
    routed.router.upstream.script(Reply(text="Hi there.", input_tokens=42, output_tokens=5, cached_tokens=10))
    message = routed.router.client(routed.key).messages.create(
        model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "hello"}]
    )
    assert message.id.startswith("msg_")
    assert message.model == "claude-sonnet-4-5"
    assert message.role == "assistant"
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "Hi there."  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 5
    if routed.case.kind == "gemini":
        # Gemini reports cached content inside the prompt count; LiteLLM passes it on as cached tokens.
        assert message.usage.input_tokens + (message.usage.cache_read_input_tokens or 0) == 42
    else:
        assert message.usage.input_tokens == 32
        assert message.usage.cache_read_input_tokens == 10


def test_upstream_sees_provider_credential_never_the_client_key(routed: Routed) -> None:
    routed.router.client(routed.key).messages.create(
        model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    [seen] = routed.router.upstream.requests
    headers = json.dumps(seen.headers) + json.dumps(seen.query)
    assert CREDENTIALS[routed.case.kind] in headers
    assert routed.key not in headers
    assert seen.model == routed.case.upstream_model
    if routed.case.kind == "azure":
        assert seen.path == "/openai/deployments/gpt-4o-prod/chat/completions"
        assert seen.query["api-version"] == "2024-10-21"
        assert seen.headers["api-key"] == CREDENTIALS["azure"]


def test_stream_accumulates_to_the_non_streamed_message(routed: Routed) -> None:
    reply = Reply(
        text="Let me write that file for you.",
        reasoning="The user wants a file.",
        tool_calls=[ToolCall("Write", {"file_path": "/tmp/a.txt", "content": "hello\nworld"})],
        input_tokens=120,
        output_tokens=30,
        chunk_size=5,
    )
    upstream = routed.router.upstream
    upstream.script(reply, reply)
    client = routed.router.client(routed.key)
    params: dict[str, Any] = {
        "model": "claude-opus-5-5",
        "max_tokens": 2000,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": [
            {
                "name": "Write",
                "description": "Write a file",
                "input_schema": {
                    "type": "object",
                    "properties": {"file_path": {"type": "string"}, "content": {"type": "string"}},
                    "required": ["file_path", "content"],
                },
            }
        ],
        "messages": [{"role": "user", "content": "write hello world to /tmp/a.txt"}],
    }
    plain = client.messages.create(**params)
    with client.messages.stream(**params) as stream:
        streamed = stream.get_final_message()
    kinds = [b.type for b in plain.content]
    assert kinds[-1] == "tool_use"
    assert "text" in kinds
    if routed.case.kind in ("openai", "azure", "anthropic", "gemini"):
        assert kinds[0] == "thinking"
    tool = plain.content[-1]
    assert tool.id.startswith("toolu_")
    assert tool.input == {"file_path": "/tmp/a.txt", "content": "hello\nworld"}
    assert plain.stop_reason == "tool_use"
    # Ids differ per message; everything else must be the same.
    a, b = _dump(plain), _dump(streamed)
    for d in (a, b):
        d.pop("id")
        for block in d["content"]:
            block.pop("id", None)
            block.pop("signature", None)
    assert a == b


def test_tool_result_round_trip_reaches_upstream_in_order(routed: Routed) -> None:
    upstream = routed.router.upstream
    upstream.script(Reply(text="Done: the command printed ok."))
    client = routed.router.client(routed.key)
    message = client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=500,
        tools=[
            {
                "name": "Bash",
                "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
            }
        ],
        messages=[
            {"role": "user", "content": "run echo ok"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Running it."},
                    {"type": "tool_use", "id": "toolu_01A", "name": "Bash", "input": {"command": "echo ok"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "ok\n"},
                    {"type": "text", "text": "what did it print?"},
                ],
            },
        ],
    )
    assert message.content[0].text == "Done: the command printed ok."  # type: ignore[union-attr]
    [seen] = upstream.requests
    body = json.dumps(seen.json)
    assert "echo ok" in body and "ok\\n" in body and "what did it print?" in body
    if routed.case.kind in ("openai", "azure"):
        roles = [m["role"] for m in seen.json["messages"]]
        assert roles == ["user", "assistant", "tool", "user"]
        assert seen.json["messages"][2]["tool_call_id"] == "toolu_01A"


def test_claude_code_request_streams_through(routed: Routed) -> None:
    body = json.loads((FIXTURES / "claude_code_request.json").read_text())
    routed.router.upstream.script(Reply(text="I'll look at the repository first.", chunk_size=3))
    with routed.router.http() as http:
        response = http.post(
            "/v1/messages?beta=true",
            json=body,
            headers={
                "authorization": f"Bearer {routed.key}",
                "anthropic-version": "2023-06-01",
                "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
                "x-app": "cli",
            },
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["request-id"].startswith("req_")
    events = _parse_sse(response.text)
    validate_stream(events)
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    assert text == "I'll look at the repository first."


def test_upstream_rate_limit_reaches_client_with_retry_after(routed: Routed) -> None:
    routed.router.upstream.script(Fail(429, "slow down", headers={"retry-after": "7"}))
    client = routed.router.client(routed.key)
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(
            model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]


def test_upstream_bad_request_is_not_retried_and_is_a_400(routed: Routed) -> None:
    routed.router.upstream.script(Fail(400, "bad things in the request"))
    client = routed.router.client(routed.key)
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(
            model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert len(routed.router.upstream.requests) == 1


def test_count_tokens_and_models(routed: Routed) -> None:
    client = routed.router.client(routed.key)
    counted = client.messages.count_tokens(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hello there, how are you today?"}]
    )
    assert counted.input_tokens > 0
    models = client.models.list()
    ids = [m.id for m in models.data]
    assert "claude-opus-5-5" in ids and "claude-sonnet-4-5" in ids


def _parse_sse(text: str) -> list[dict[str, Any]]:
    events = []
    for frame in text.split("\n\n"):
        lines = frame.strip().splitlines()
        data = [line[6:] for line in lines if line.startswith("data: ")]
        if data:
            events.append(json.loads("".join(data)))
    return events
