"""The fake's Gemini endpoints, read by litellm.acompletion (the way the router calls Gemini) and raw HTTP.

LiteLLM 1.106.2 with ``api_base`` builds ``{api_base}/models/{model}:generateContent`` and
``{api_base}/models/{model}:streamGenerateContent?alt=sse`` (no /v1beta), key in ``x-goog-api-key``.
"""

from __future__ import annotations

import json
import os
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.fakes import Fail, FakeUpstream, Reply, ToolCall, estimate_tokens

TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
MESSAGES: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
WEATHER = ToolCall("get_weather", {"city": "Paris"})


@pytest.fixture(scope="module")
def litellm() -> ModuleType:
    # The bundled cost map: importing litellm must not reach for the network.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm as module

    return module


def _scripted() -> Reply:
    return Reply(
        text="Checking the weather.",
        reasoning="I should call the tool",
        tool_calls=[WEATHER],
        input_tokens=40,
        output_tokens=12,
        cached_tokens=10,
    )


async def test_litellm_non_stream_reads_text_reasoning_tool_call_and_usage(
    fake_upstream: FakeUpstream, litellm: ModuleType
) -> None:
    fake_upstream.script(_scripted(), model="gemini-2.5-pro")
    resp = await litellm.acompletion(
        model="gemini/gemini-2.5-pro",
        api_base=fake_upstream.base_url,
        api_key="k",
        messages=MESSAGES,
        tools=TOOLS,
        max_retries=0,
    )
    message = resp.choices[0].message
    assert message.content == "Checking the weather."
    assert message.reasoning_content == "I should call the tool"
    assert [(tc.function.name, json.loads(tc.function.arguments)) for tc in message.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert resp.choices[0].finish_reason == "tool_calls"
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (40, 12, 52)
    assert resp.usage.prompt_tokens_details.cached_tokens == 10

    recorded = fake_upstream.requests_for("gemini", "gemini-2.5-pro")
    assert [r.path for r in recorded] == ["/models/gemini-2.5-pro:generateContent"]
    assert recorded[0].headers["x-goog-api-key"] == "k" and recorded[0].stream is False
    assert recorded[0].json["tools"][0]["function_declarations"][0]["name"] == "get_weather"


async def test_litellm_stream_reads_text_tool_call_and_usage(
    fake_upstream: FakeUpstream, litellm: ModuleType
) -> None:
    fake_upstream.script(_scripted(), model="gemini-2.5-pro")
    stream = await litellm.acompletion(
        model="gemini/gemini-2.5-pro",
        api_base=fake_upstream.base_url,
        api_key="k",
        messages=MESSAGES,
        tools=TOOLS,
        max_retries=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, reasoning, calls, usage, finish = "", "", [], None, None
    async for chunk in stream:
        usage = getattr(chunk, "usage", None) or usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            reasoning += getattr(choice.delta, "reasoning_content", None) or ""
            calls += [
                (tc.function.name, json.loads(tc.function.arguments)) for tc in choice.delta.tool_calls or []
            ]
            finish = choice.finish_reason or finish

    assert text == "Checking the weather." and reasoning == "I should call the tool"
    assert calls == [("get_weather", {"city": "Paris"})]
    assert finish == "tool_calls"
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (40, 12)
    recorded = fake_upstream.requests[-1]
    assert recorded.path == "/models/gemini-2.5-pro:streamGenerateContent"
    assert recorded.query == {"alt": "sse"} and recorded.stream is True


async def test_litellm_maps_a_gemini_429_to_rate_limit_error(
    fake_upstream: FakeUpstream, litellm: ModuleType
) -> None:
    fake_upstream.script(Fail(429, "quota exhausted"))
    with pytest.raises(litellm.RateLimitError):
        await litellm.acompletion(
            model="gemini/gemini-2.5-flash",
            api_base=fake_upstream.base_url,
            api_key="k",
            messages=MESSAGES,
            max_retries=0,
        )


async def test_google_style_stream_uses_crlf_frames_whole_function_calls_and_usage_last(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.script(Reply(text="abcdefghijk", tool_calls=[WEATHER, ToolCall("now", {})], chunk_size=4))
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            fake_upstream.base_url + "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
            params={"alt": "sse", "key": "qk"},
            json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        )
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    assert resp.text.endswith("\r\n\r\n")
    chunks = [json.loads(f.removeprefix("data: ")) for f in resp.text.split("\r\n\r\n") if f]
    parts = [c["candidates"][0]["content"]["parts"] for c in chunks]
    assert [p[0]["text"] for p in parts[:-1]] == ["abcd", "efgh", "ijk"]
    assert parts[-1] == [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
        {"functionCall": {"name": "now", "args": {}}},
    ]
    assert ["usageMetadata" in c for c in chunks] == [False, False, False, True]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert all(c["candidates"][0]["content"]["role"] == "model" for c in chunks)
    usage = chunks[-1]["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert fake_upstream.requests[-1].model == "gemini-2.5-flash"
    assert fake_upstream.requests[-1].query["key"] == "qk"


async def test_non_stream_length_finish_and_thoughts_usage(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Reply(text="cut", reasoning="deep thought", finish="length", output_tokens=10))
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            fake_upstream.base_url + "/v1beta/models/gemini-2.5-pro:generateContent",
            headers={"x-goog-api-key": "k"},
            json={"contents": []},
        )
    body = resp.json()
    candidate = body["candidates"][0]
    assert candidate["finishReason"] == "MAX_TOKENS" and candidate["index"] == 0
    assert candidate["content"]["parts"] == [{"text": "deep thought", "thought": True}, {"text": "cut"}]
    usage = body["usageMetadata"]
    assert usage["thoughtsTokenCount"] + usage["candidatesTokenCount"] == 10
    assert body["modelVersion"] == "gemini-2.5-pro"


async def test_count_tokens_and_error_shape_and_missing_key(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(Fail(503, "busy"))
    url = fake_upstream.base_url + "/v1beta/models/gemini-2.5-pro"
    payload = {"contents": [{"role": "user", "parts": [{"text": "count me"}]}]}
    async with httpx.AsyncClient() as http:
        counted = await http.post(url + ":countTokens", headers={"x-goog-api-key": "k"}, json=payload)
        failed = await http.post(url + ":generateContent", headers={"x-goog-api-key": "k"}, json=payload)
        keyless = await http.post(url + ":generateContent", json=payload)
    count_request = fake_upstream.requests_for("gemini")[0]
    assert count_request.path.endswith(":countTokens") and count_request.json == payload
    assert counted.json() == {"totalTokens": estimate_tokens(len(count_request.body))}
    assert failed.status_code == 503
    assert failed.json() == {"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}}
    assert keyless.status_code == 403 and keyless.json()["error"]["status"] == "PERMISSION_DENIED"
