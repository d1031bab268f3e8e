"""OpenAI chat completion -> Anthropic Message."""

from __future__ import annotations

from typing import Any

import pytest

from router.translate.from_openai import to_anthropic_message
from router.translate.openai_common import parse_tool_arguments
from router.translate.thinking import is_synthetic_signature, synthetic_signature


def completion(
    message: dict[str, Any],
    finish_reason: str | None = "stop",
    usage: dict[str, Any] | None = None,
    **choice_extra: Any,
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-x",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message},
                "finish_reason": finish_reason,
                **choice_extra,
            }
        ],
        "usage": usage or {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


def test_text_reply() -> None:
    msg = to_anthropic_message(completion({"content": "Hello"}), model="claude-x", message_id="msg_1")
    assert msg == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [{"type": "text", "text": "Hello"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 100,
            "output_tokens": 20,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def test_reasoning_text_and_tools_in_anthropic_order() -> None:
    resp = completion(
        {
            "content": "Let me look.",
            "reasoning_content": "Need to list files.",
            "tool_calls": [
                {
                    "id": "call_abc123",
                    "type": "function",
                    "function": {"name": "Bash", "arguments": '{"command":"ls"}'},
                },
                {"id": "toolu_keep", "type": "function", "function": {"name": "Read", "arguments": ""}},
            ],
        },
        finish_reason="tool_calls",
    )
    msg = to_anthropic_message(resp, model="m")
    assert msg["id"].startswith("msg_")
    assert msg["content"] == [
        {
            "type": "thinking",
            "thinking": "Need to list files.",
            "signature": synthetic_signature("Need to list files."),
        },
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "toolu_call_abc123", "name": "Bash", "input": {"command": "ls"}},
        {"type": "tool_use", "id": "toolu_keep", "name": "Read", "input": {}},
    ]
    assert msg["stop_reason"] == "tool_use"
    assert is_synthetic_signature(msg["content"][0]["signature"])


def test_upstream_thinking_blocks_keep_their_signatures() -> None:
    resp = completion(
        {
            "content": "ok",
            "reasoning_content": "thought",
            "thinking_blocks": [
                {"type": "thinking", "thinking": "thought", "signature": "real-sig"},
                {"type": "redacted_thinking", "data": "opaque"},
            ],
        }
    )
    assert to_anthropic_message(resp, model="m")["content"][:2] == [
        {"type": "thinking", "thinking": "thought", "signature": "real-sig"},
        {"type": "redacted_thinking", "data": "opaque"},
    ]


def test_openrouter_style_reasoning_field() -> None:
    msg = to_anthropic_message(completion({"content": "x", "reasoning": "why"}), model="m")
    assert msg["content"][0]["thinking"] == "why"


def test_tool_calls_with_finish_reason_stop_still_report_tool_use() -> None:
    resp = completion(
        {
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "T", "arguments": "{}"}}],
        },
        finish_reason="stop",
    )
    assert to_anthropic_message(resp, model="m")["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
        ("something_new", "end_turn"),
    ],
)
def test_finish_reasons_map_to_stop_reasons(finish: str | None, stop_reason: str) -> None:
    assert to_anthropic_message(completion({"content": "x"}, finish), model="m")["stop_reason"] == stop_reason


def test_stop_sequence_named_by_upstream_is_reported() -> None:
    resp = completion({"content": "The answer"}, "stop", stop_reason="END")
    msg = to_anthropic_message(resp, model="m", stop_sequences=["END"])
    assert (msg["stop_reason"], msg["stop_sequence"]) == ("stop_sequence", "END")


def test_stop_sequence_left_in_the_text_is_stripped_and_reported() -> None:
    msg = to_anthropic_message(completion({"content": "one two###"}), model="m", stop_sequences=["@@", "###"])
    assert msg["content"] == [{"type": "text", "text": "one two"}]
    assert (msg["stop_reason"], msg["stop_sequence"]) == ("stop_sequence", "###")


def test_refusal_becomes_text_with_refusal_stop_reason() -> None:
    msg = to_anthropic_message(completion({"content": None, "refusal": "I can't help with that."}), model="m")
    assert msg["content"] == [{"type": "text", "text": "I can't help with that."}]
    assert msg["stop_reason"] == "refusal"


def test_usage_splits_cached_prompt_tokens() -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 50, "prompt_tokens_details": {"cached_tokens": 800}}
    assert to_anthropic_message(completion({"content": "x"}, usage=usage), model="m")["usage"] == {
        "input_tokens": 200,
        "output_tokens": 50,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 800,
    }
    litellm_anthropic = {
        "prompt_tokens": 1000,
        "completion_tokens": 5,
        "cache_creation_input_tokens": 300,
        "cache_read_input_tokens": 600,
        "prompt_tokens_details": {"cached_tokens": 600},
    }
    assert to_anthropic_message(completion({"content": "x"}, usage=litellm_anthropic), model="m")[
        "usage"
    ] == {
        "input_tokens": 100,
        "output_tokens": 5,
        "cache_creation_input_tokens": 300,
        "cache_read_input_tokens": 600,
    }


def test_empty_reply_has_empty_content() -> None:
    msg = to_anthropic_message({"choices": [], "usage": None}, model="m")
    assert msg["content"] == [] and msg["stop_reason"] == "end_turn" and msg["usage"]["output_tokens"] == 0


def test_content_given_as_parts_is_joined() -> None:
    resp = completion({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]})
    assert to_anthropic_message(resp, model="m")["content"] == [{"type": "text", "text": "ab"}]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("", {}),
        ("   ", {}),
        (None, {}),
        ('{"a": 1}', {"a": 1}),
        ('"{\\"a\\": 1}"', {"a": 1}),
        ('{"a": 1}{"a": 1}', {"a": 1}),
        ('{"a": 1} trailing', {"a": 1}),
        ('{"path": "/tmp/x', {"path": "/tmp/x"}),
        ('{"list": [1, 2,', {"list": [1, 2]}),
        ("not json", {"_raw": "not json"}),
        ("[1, 2]", {"_raw": "[1, 2]"}),
    ],
)
def test_tool_arguments_are_parsed_or_repaired_or_kept_raw(
    arguments: str | None, expected: dict[str, Any]
) -> None:
    assert parse_tool_arguments(arguments) == expected


def test_ids_are_sanitised_to_anthropics_alphabet() -> None:
    resp = completion(
        {
            "tool_calls": [
                {"id": "call:1/x", "type": "function", "function": {"name": "T", "arguments": "{}"}}
            ]
        },
        "tool_calls",
    )
    assert to_anthropic_message(resp, model="m")["content"][0]["id"] == "toolu_call_1_x"
