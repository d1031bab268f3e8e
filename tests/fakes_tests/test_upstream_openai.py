"""The fake's OpenAI and Azure OpenAI endpoints, read by the official openai SDK."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from tests.fakes import Fail, FakeUpstream, Reply, ToolCall, estimate_tokens

TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
MESSAGES: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
WEATHER = ToolCall("get_weather", {"city": "Paris", "unit": "celsius", "days": 3})


def _client(fake: FakeUpstream) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=fake.base_url + "/v1", api_key="sk-test", max_retries=0)


async def test_non_stream_completion_carries_text_reasoning_tool_calls_and_usage(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.script(
        Reply(
            text="Let me look.",
            reasoning="needs a tool",
            tool_calls=[WEATHER],
            input_tokens=50,
            output_tokens=9,
            cached_tokens=20,
        ),
        model="gpt-4o",
    )
    resp = await _client(fake_upstream).chat.completions.create(
        model="gpt-4o", messages=MESSAGES, tools=TOOLS
    )

    message = resp.choices[0].message
    assert resp.id.startswith("chatcmpl-") and resp.model == "gpt-4o"
    assert message.content == "Let me look."
    assert (message.model_extra or {})["reasoning_content"] == "needs a tool"
    assert message.tool_calls is not None and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == WEATHER.arguments
    assert resp.choices[0].finish_reason == "tool_calls"
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (50, 9, 59)
    assert resp.usage.prompt_tokens_details is not None
    assert resp.usage.prompt_tokens_details.cached_tokens == 20

    recorded = fake_upstream.requests_for("openai", "gpt-4o")
    assert len(recorded) == 1
    assert recorded[0].path == "/v1/chat/completions" and recorded[0].stream is False
    assert recorded[0].headers["authorization"] == "Bearer sk-test"
    assert recorded[0].json["tools"][0]["function"]["name"] == "get_weather"


async def test_stream_reassembles_tool_arguments_from_several_fragments_and_ends_with_usage(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.script(
        Reply(text="Let me look it up.", reasoning="hmm", tool_calls=[WEATHER], chunk_size=5)
    )
    stream = await _client(fake_upstream).chat.completions.create(
        model="gpt-4o", messages=MESSAGES, tools=TOOLS, stream=True, stream_options={"include_usage": True}
    )
    text, reasoning, finish = "", "", None
    calls: dict[int, dict[str, str]] = {}
    argument_fragments = 0
    usage = None
    async for chunk in stream:
        if chunk.usage is not None:
            assert chunk.choices == []
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
            finish = choice.finish_reason or finish
            for tc in choice.delta.tool_calls or []:
                entry = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                if tc.id:
                    assert tc.function is not None and tc.function.name and tc.function.arguments == ""
                    entry["id"], entry["name"] = tc.id, tc.function.name
                elif tc.function and tc.function.arguments:
                    argument_fragments += 1
                    entry["arguments"] += tc.function.arguments

    assert text == "Let me look it up." and reasoning == "hmm" and finish == "tool_calls"
    assert argument_fragments > 1
    assert calls[0]["name"] == "get_weather" and calls[0]["id"].startswith("call_")
    assert json.loads(calls[0]["arguments"]) == WEATHER.arguments
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    body_size = len(fake_upstream.requests[-1].body)
    assert usage.prompt_tokens == estimate_tokens(body_size)  # no input_tokens scripted: the estimate


async def test_stream_without_include_usage_has_no_usage_chunk(fake_upstream: FakeUpstream) -> None:
    stream = await _client(fake_upstream).chat.completions.create(model="m", messages=MESSAGES, stream=True)
    chunks = [c async for c in stream]
    assert all(c.usage is None for c in chunks)
    assert "".join(ch.delta.content or "" for c in chunks for ch in c.choices) == "Hello from openai:m."


async def test_scripted_failure_surfaces_as_sdk_error_with_openai_body_and_headers(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.script(Fail(429, "slow down", headers={"retry-after": "7"}))
    with pytest.raises(openai.RateLimitError) as caught:
        await _client(fake_upstream).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.body == {
        "message": "slow down",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }


async def test_missing_bearer_key_is_rejected_with_401_and_still_recorded(
    fake_upstream: FakeUpstream,
) -> None:
    async with httpx.AsyncClient() as http:
        resp = await http.post(fake_upstream.base_url + "/v1/chat/completions", json={"model": "m"})
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "invalid_api_key"
    assert len(fake_upstream.requests_for("openai")) == 1


def _azure(fake: FakeUpstream) -> openai.AsyncAzureOpenAI:
    return openai.AsyncAzureOpenAI(
        azure_endpoint=fake.base_url, api_key="az-key", api_version="2024-10-21", max_retries=0
    )


async def test_azure_sdk_non_stream_is_keyed_by_deployment_and_records_api_version(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.script(Reply(text="from the deployment", tool_calls=[WEATHER]), model="prod-gpt4o")
    resp = await _azure(fake_upstream).chat.completions.create(
        model="prod-gpt4o", messages=MESSAGES, tools=TOOLS
    )

    assert resp.choices[0].message.content == "from the deployment"
    assert resp.choices[0].message.tool_calls is not None
    call = resp.choices[0].message.tool_calls[0]
    assert call.type == "function" and json.loads(call.function.arguments) == WEATHER.arguments
    recorded = fake_upstream.requests_for("azure", "prod-gpt4o")
    assert len(recorded) == 1
    assert recorded[0].path == "/openai/deployments/prod-gpt4o/chat/completions"
    assert recorded[0].query["api-version"] == "2024-10-21"
    assert recorded[0].headers["api-key"] == "az-key"


async def test_azure_sdk_stream_delivers_text_tool_call_and_usage(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply(text="streamed azure", tool_calls=[WEATHER], input_tokens=12, output_tokens=4))
    stream = await _azure(fake_upstream).chat.completions.create(
        model="dep", messages=MESSAGES, tools=TOOLS, stream=True, stream_options={"include_usage": True}
    )
    text, arguments, usage = "", "", None
    async for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for tc in choice.delta.tool_calls or []:
                arguments += (tc.function.arguments or "") if tc.function else ""
    assert text == "streamed azure"
    assert json.loads(arguments) == WEATHER.arguments
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (12, 4)
    assert fake_upstream.requests[-1].kind == "azure" and fake_upstream.requests[-1].stream is True


async def test_azure_without_api_version_is_404_like_azure(fake_upstream: FakeUpstream) -> None:
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            fake_upstream.base_url + "/openai/deployments/dep/chat/completions",
            json={"model": "x", "messages": MESSAGES},
            headers={"api-key": "k"},
        )
    assert resp.status_code == 404
    assert fake_upstream.requests[-1].kind == "azure" and fake_upstream.requests[-1].model == "dep"


@pytest.mark.parametrize(
    ("path", "kind", "model"),
    [
        ("/chat/completions", "openai", "body-model"),
        ("/api/openai/v1/chat/completions", "openai", "body-model"),
        ("/openai/v1/chat/completions", "azure", "body-model"),  # Azure's v1 API: deployment in the body
        ("/openai/deployments/dep-1/chat/completions?api-version=2025-01-01", "azure", "dep-1"),
    ],
)
async def test_chat_completions_is_served_under_any_prefix(
    fake_upstream: FakeUpstream, path: str, kind: str, model: str
) -> None:
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            fake_upstream.base_url + path, json={"model": "body-model"}, headers={"authorization": "Bearer k"}
        )
    assert resp.status_code == 200
    assert resp.json()["choices"][0]["message"]["content"] == f"Hello from {kind}:{model}."
    assert (fake_upstream.requests[-1].kind, fake_upstream.requests[-1].model) == (kind, model)
