"""Anthropic request -> OpenAI chat-completions body: golden cases for each translation rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from router.translate.quirks import Quirks, quirks_for
from router.translate.to_openai import to_openai_request
from router.wire.errors import InvalidRequestError
from router.wire.requests import decode_request
from tests.translate.helpers import request

OPENAI = quirks_for("openai")
GEMINI = quirks_for("gemini")
FIXTURE = Path(__file__).parent.parent / "fixtures" / "claude_code_request.json"
PNG = "iVBORw0KGgo="


def translate(quirks: Quirks = OPENAI, **fields: Any) -> dict[str, Any]:
    return to_openai_request(request(**fields), model="gpt-x", quirks=quirks)


def test_minimal_request() -> None:
    assert translate() == {
        "model": "gpt-x",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 1000,
    }


def test_system_blocks_become_one_system_message_without_cache_control() -> None:
    body = translate(
        system=[
            {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Be brief."},
        ]
    )
    assert body["messages"][0] == {"role": "system", "content": "You are Claude Code.\n\nBe brief."}
    assert "cache_control" not in json.dumps(body)


def test_system_role_messages_stay_in_place() -> None:
    messages = [
        {"role": "user", "content": "a"},
        {"role": "system", "content": [{"type": "text", "text": "reminder"}]},
        {"role": "user", "content": "b"},
    ]
    assert [m["role"] for m in translate(messages=messages)["messages"]] == ["user", "system", "user"]
    no_mid_system = Quirks(kind="x", supports_mid_conversation_system=False)
    assert translate(no_mid_system, messages=messages)["messages"][1] == {
        "role": "user",
        "content": "reminder",
    }


def test_tool_results_come_before_the_rest_of_the_user_turn_in_order() -> None:
    messages = [
        {"role": "user", "content": "run both"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "plan", "signature": "sig"},
                {"type": "text", "text": "Running."},
                {"type": "tool_use", "id": "toolu_a", "name": "Bash", "input": {"command": "ls"}},
                {"type": "tool_use", "id": "toolu_b", "name": "Read", "input": {"file_path": "/x"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "and then explain"},
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "file1\nfile2"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_b",
                    "is_error": True,
                    "content": [{"type": "text", "text": "no such file"}],
                },
            ],
        },
    ]
    assert translate(messages=messages)["messages"] == [
        {"role": "user", "content": "run both"},
        {
            "role": "assistant",
            "content": "Running.",
            "tool_calls": [
                {
                    "id": "toolu_a",
                    "type": "function",
                    "function": {"name": "Bash", "arguments": '{"command":"ls"}'},
                },
                {
                    "id": "toolu_b",
                    "type": "function",
                    "function": {"name": "Read", "arguments": '{"file_path":"/x"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_a", "content": "file1\nfile2"},
        {"role": "tool", "tool_call_id": "toolu_b", "content": "Error: no such file"},
        {"role": "user", "content": "and then explain"},
    ]


def test_assistant_with_only_tool_use_has_null_content_and_thinking_only_turns_vanish() -> None:
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "x"}]},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "T", "input": {}}]},
    ]
    out = translate(messages=messages)["messages"]
    assert [m["role"] for m in out] == ["user", "user", "assistant"]
    assert out[2]["content"] is None and out[2]["tool_calls"][0]["function"]["arguments"] == "{}"


def test_images_become_image_url_parts() -> None:
    content = [
        {"type": "text", "text": "what is this"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://x/y.jpg"}},
    ]
    assert translate(messages=[{"role": "user", "content": content}])["messages"][0]["content"] == [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://x/y.jpg"}},
    ]


def test_images_inside_a_tool_result_follow_the_tool_messages_in_a_user_message() -> None:
    messages = [
        {"role": "user", "content": "shot"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_s", "name": "Screenshot", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_s",
                    "content": [
                        {"type": "text", "text": "captured"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                        },
                    ],
                },
                {"type": "text", "text": "what do you see?"},
            ],
        },
    ]
    out = translate(messages=messages)["messages"]
    assert out[2] == {"role": "tool", "tool_call_id": "toolu_s", "content": "captured"}
    assert out[3]["role"] == "user"
    assert out[3]["content"] == [
        {"type": "text", "text": "Attachments returned by tool call toolu_s:"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "text", "text": "what do you see?"},
    ]


def test_pdf_document_becomes_a_file_part_or_a_clear_error() -> None:
    content = [
        {
            "type": "document",
            "title": "spec.pdf",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
        },
        {"type": "text", "text": "summarise"},
    ]
    out = translate(messages=[{"role": "user", "content": content}])["messages"][0]["content"]
    assert out[0] == {
        "type": "file",
        "file": {"filename": "spec.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"},
    }
    with pytest.raises(InvalidRequestError, match="cannot read PDF"):
        translate(quirks_for("some-litellm-provider"), messages=[{"role": "user", "content": content}])


def test_text_documents_become_text_with_title_and_context() -> None:
    content = [
        {
            "type": "document",
            "title": "Notes",
            "context": "from the wiki",
            "source": {"type": "text", "media_type": "text/plain", "data": "body text"},
        }
    ]
    out = translate(messages=[{"role": "user", "content": content}])["messages"][0]
    assert out == {"role": "user", "content": "Notes\n\nfrom the wiki\n\nbody text"}


def test_document_url_only_where_the_target_can_fetch_it() -> None:
    content = [{"type": "document", "source": {"type": "url", "url": "https://x/d.pdf"}}]
    out = translate(GEMINI, messages=[{"role": "user", "content": content}])["messages"][0]["content"]
    assert out == [{"type": "file", "file": {"file_id": "https://x/d.pdf", "format": "application/pdf"}}]
    with pytest.raises(InvalidRequestError, match="URL sources are not supported"):
        translate(OPENAI, messages=[{"role": "user", "content": content}])


def test_files_api_sources_are_rejected_for_non_anthropic_targets() -> None:
    content = [{"type": "image", "source": {"type": "file", "file_id": "file_1"}}]
    with pytest.raises(InvalidRequestError, match="Files API"):
        translate(messages=[{"role": "user", "content": content}])


def test_tools_become_functions_and_server_tools_are_dropped() -> None:
    tools = [
        {
            "name": "Bash",
            "description": "run",
            "input_schema": {"type": "object", "properties": {"c": {"type": "string"}}},
            "cache_control": {"type": "ephemeral"},
        },
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
        {"name": "NoArgs"},
    ]
    body = translate(tools=tools, tool_choice={"type": "auto"})
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "Bash",
                "description": "run",
                "parameters": {"type": "object", "properties": {"c": {"type": "string"}}},
            },
        },
        {
            "type": "function",
            "function": {"name": "NoArgs", "parameters": {"type": "object", "properties": {}}},
        },
    ]
    assert body["tool_choice"] == "auto"


def test_server_tools_can_be_mapped_through_the_quirks_table() -> None:
    quirks = Quirks(
        kind="x", server_tools={"web_search": lambda tool: {"type": "web_search", "n": tool["name"]}}
    )
    body = translate(quirks, tools=[{"type": "web_search_20250305", "name": "web_search"}])
    assert body["tools"] == [{"type": "web_search", "n": "web_search"}]


def test_no_tools_left_means_no_tool_choice() -> None:
    body = translate(
        tools=[{"type": "web_search_20250305", "name": "web_search"}], tool_choice={"type": "any"}
    )
    assert "tools" not in body and "tool_choice" not in body


@pytest.mark.parametrize(
    ("choice", "expected", "parallel"),
    [
        ({"type": "auto"}, "auto", None),
        ({"type": "any"}, "required", None),
        ({"type": "tool", "name": "Bash"}, {"type": "function", "function": {"name": "Bash"}}, None),
        ({"type": "none"}, "none", None),
        ({"type": "auto", "disable_parallel_tool_use": True}, "auto", False),
        ({"type": "any", "disable_parallel_tool_use": True}, "required", False),
    ],
)
def test_tool_choice_variants(choice: dict[str, Any], expected: object, parallel: bool | None) -> None:
    body = translate(tools=[{"name": "Bash", "input_schema": {"type": "object"}}], tool_choice=choice)
    assert body["tool_choice"] == expected
    assert body.get("parallel_tool_calls") == parallel


@pytest.mark.parametrize(
    ("thinking", "output_config", "effort"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, None, "low"),
        ({"type": "enabled", "budget_tokens": 4095}, None, "low"),
        ({"type": "enabled", "budget_tokens": 4096}, None, "medium"),
        ({"type": "enabled", "budget_tokens": 16383}, None, "medium"),
        ({"type": "enabled", "budget_tokens": 16384}, None, "high"),
        ({"type": "adaptive"}, {"effort": "low"}, "low"),
        ({"type": "adaptive"}, {"effort": "medium"}, "medium"),
        ({"type": "adaptive"}, {"effort": "high"}, "high"),
        ({"type": "adaptive"}, {"effort": "max"}, "high"),
        ({"type": "adaptive"}, None, "high"),
        ({"type": "disabled"}, {"effort": "low"}, None),
        (None, None, None),
    ],
)
def test_thinking_maps_to_reasoning_effort(
    thinking: dict[str, Any] | None, output_config: dict[str, Any] | None, effort: str | None
) -> None:
    fields: dict[str, Any] = {"max_tokens": 20000}
    if thinking is not None:
        fields["thinking"] = thinking
    if output_config is not None:
        fields["output_config"] = output_config
    assert translate(**fields).get("reasoning_effort") == effort


def test_reasoning_effort_is_omitted_where_unsupported() -> None:
    quirks = Quirks(kind="x", supports_reasoning_effort=False)
    assert "reasoning_effort" not in translate(
        quirks, max_tokens=5000, thinking={"type": "enabled", "budget_tokens": 2000}
    )


def test_sampling_user_and_stream_options_and_no_stop_sequences_upstream() -> None:
    user_id = json.dumps({"device_id": "d" * 80, "session_id": "s"})
    body = translate(
        temperature=0.3,
        top_p=0.9,
        top_k=40,
        stop_sequences=["a", "b", "c", "d", "e", "f"],
        metadata={"user_id": user_id},
        stream=True,
    )
    assert (body["temperature"], body["top_p"]) == (0.3, 0.9)
    assert "top_k" not in body
    # The router finds stop sequences in the text itself: the upstream could not say which matched.
    assert "stop" not in body
    assert body["user"] == user_id[:64]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    gemini = translate(
        GEMINI, top_k=40, stop_sequences=["a", "b", "c", "d", "e", "f"], metadata={"user_id": "u"}
    )
    assert gemini["top_k"] == 40 and "stop" not in gemini and "user" not in gemini


def test_max_tokens_cap_and_overrides() -> None:
    req = request(max_tokens=32000, temperature=0.2, thinking={"type": "enabled", "budget_tokens": 2000})
    assert to_openai_request(req, model="m", quirks=OPENAI, max_tokens_cap=8192)["max_tokens"] == 8192
    body = to_openai_request(
        req,
        model="m",
        quirks=OPENAI,
        max_tokens_cap=8192,
        overrides={"max_tokens": 4096, "temperature": 0.7, "reasoning_effort": "high"},
    )
    assert (body["max_tokens"], body["temperature"], body["reasoning_effort"]) == (4096, 0.7, "high")
    small = request(max_tokens=100)
    assert to_openai_request(small, model="m", quirks=OPENAI, max_tokens_cap=8192)["max_tokens"] == 100


def test_gemini_tool_schemas_are_cleaned_and_openai_ones_untouched() -> None:
    schema = {
        "type": "object",
        "$schema": "http://json-schema.org/draft-07/schema#",
        "additionalProperties": False,
        "properties": {"n": {"type": "integer", "default": 3}},
    }
    tools = [{"name": "T", "input_schema": schema}]
    assert translate(tools=tools)["tools"][0]["function"]["parameters"] == schema
    assert translate(GEMINI, tools=tools)["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
    }


def test_unsupported_schema_keys_are_stripped_per_quirks_but_property_names_kept() -> None:
    quirks = Quirks(kind="x", tool_schema_unsupported_keys=frozenset({"format", "$schema"}))
    schema = {"$schema": "s", "type": "object", "properties": {"format": {"type": "string", "format": "uri"}}}
    out = translate(quirks, tools=[{"name": "T", "input_schema": schema}])["tools"][0]["function"][
        "parameters"
    ]
    assert out == {"type": "object", "properties": {"format": {"type": "string"}}}


def test_claude_code_fixture_translates_to_a_valid_openai_conversation() -> None:
    req = decode_request(FIXTURE.read_bytes())
    body = to_openai_request(req, model="gpt-5", quirks=OPENAI)
    assert body["stream"] is True and body["reasoning_effort"] == "high" and body["max_tokens"] == 32000
    assert len(body["tools"]) == 12  # the web_search server tool is dropped
    assert "cache_control" not in json.dumps(body) and "signature" not in json.dumps(body)
    # Every tool message answers a tool call of the assistant message right before the tool run.
    pending: set[str] = set()
    for message in body["messages"]:
        if message["role"] == "assistant":
            assert not pending
            pending = {c["id"] for c in message.get("tool_calls", [])}
        elif message["role"] == "tool":
            assert message["tool_call_id"] in pending
            pending.discard(message["tool_call_id"])
        else:
            assert not pending, f"{message['role']} message before all tool results"
