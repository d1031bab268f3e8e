"""The stream state machine, fed recorded OpenAI chunk lists."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

from anthropic.lib.streaming._messages import accumulate_event

from router.translate.openai_stream import OpenAIStreamTranslator
from router.translate.thinking import synthetic_signature
from router.wire.stream_events import accumulate_stream, validate_stream
from tests.translate.helpers import chunk, tool_fragment, usage_chunk


def run(
    chunks: Iterable[dict[str, Any]], **kwargs: Any
) -> tuple[list[dict[str, Any]], OpenAIStreamTranslator]:
    translator = OpenAIStreamTranslator(model="claude-x", message_id="msg_test", **kwargs)
    events = translator.start()
    for c in chunks:
        events.extend(translator.feed(c))
    events.extend(translator.finish())
    validate_stream(events)
    # Tests read any key of any event: the typed union's narrowing is the code's concern, not theirs.
    return cast(list[dict[str, Any]], events), translator


def kinds(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for e in events:
        if e["type"] == "content_block_start":
            out.append(f"start:{e['content_block']['type']}")
        elif e["type"] == "content_block_delta":
            out.append(e["delta"]["type"])
        else:
            out.append(e["type"])
    return out


def sdk_message(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The message the anthropic SDK's own stream accumulator builds from our events."""
    snapshot = None
    json_bufs: dict[int, bytes] = {}
    for event in events:
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=json_bufs)  # type: ignore[arg-type]
    assert snapshot is not None
    return snapshot.to_dict()


def test_text_only_stream() -> None:
    chunks = [
        chunk(content=""),
        chunk(content="Hel"),
        chunk(content="lo"),
        chunk(finish_reason="stop"),
        usage_chunk(12, 3),
    ]
    events, translator = run(chunks, input_tokens=9)
    assert kinds(events) == [
        "message_start",
        "ping",
        "start:text",
        "text_delta",
        "text_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[0]["message"]["usage"]["input_tokens"] == 9
    assert events[-2] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {
            "input_tokens": 12,
            "output_tokens": 3,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    assert not translator.usage_estimated and translator.delivered_text_chars == 5
    message = sdk_message(events)
    assert message["content"] == [{"type": "text", "text": "Hello"}]
    assert message["usage"]["input_tokens"] == 12 and message["usage"]["output_tokens"] == 3


def test_tool_call_with_arguments_in_fragments() -> None:
    chunks = [
        chunk(tool_calls=[tool_fragment(0, id="call_1", name="Bash", args="")]),
        chunk(tool_calls=[tool_fragment(0, args='{"comm')]),
        chunk(tool_calls=[tool_fragment(0, args='and": "ls -')]),
        chunk(tool_calls=[tool_fragment(0, args='la"}')]),
        chunk(finish_reason="tool_calls"),
        usage_chunk(50, 10),
    ]
    events, _ = run(chunks)
    assert events[2] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "tool_use", "id": "toolu_call_1", "name": "Bash", "input": {}},
    }
    pieces = [e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta"]
    assert pieces == ['{"comm', 'and": "ls -', 'la"}']
    message = sdk_message(events)
    assert message["content"][0]["input"] == {"command": "ls -la"}
    assert message["stop_reason"] == "tool_use"


def test_name_and_arguments_in_the_same_chunk() -> None:
    events, _ = run(
        [
            chunk(tool_calls=[tool_fragment(0, id="c", name="T", args='{"a":1}')]),
            chunk(finish_reason="tool_calls"),
        ]
    )
    assert accumulate_stream(events)["content"][0]["input"] == {"a": 1}


def test_parallel_tool_calls_become_consecutive_blocks() -> None:
    chunks = [
        chunk(content="Both:"),
        chunk(tool_calls=[tool_fragment(0, id="call_a", name="Read", args='{"file_path":')]),
        chunk(tool_calls=[tool_fragment(0, args='"/a"}')]),
        chunk(tool_calls=[tool_fragment(1, id="call_b", name="Read", args='{"file_path":"/b"}')]),
        chunk(finish_reason="tool_calls"),
    ]
    events, _ = run(chunks)
    starts = [(e["index"], e["content_block"]["type"]) for e in events if e["type"] == "content_block_start"]
    assert starts == [(0, "text"), (1, "tool_use"), (2, "tool_use")]
    message = sdk_message(events)
    assert [b.get("input") for b in message["content"][1:]] == [{"file_path": "/a"}, {"file_path": "/b"}]
    assert [b["id"] for b in message["content"][1:]] == ["toolu_call_a", "toolu_call_b"]


def test_reasoning_then_text_then_tool() -> None:
    chunks = [
        chunk(reasoning="Think"),
        chunk(reasoning="ing."),
        chunk(content="Answer"),
        chunk(tool_calls=[tool_fragment(0, id="c9", name="Grep", args='{"pattern":"x"}')]),
        chunk(finish_reason="tool_calls", usage={"prompt_tokens": 7, "completion_tokens": 30}),
    ]
    events, _ = run(chunks)
    assert kinds(events)[2:] == [
        "start:thinking",
        "thinking_delta",
        "thinking_delta",
        "signature_delta",
        "content_block_stop",
        "start:text",
        "text_delta",
        "content_block_stop",
        "start:tool_use",
        "input_json_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    message = sdk_message(events)
    assert message["content"][0] == {
        "type": "thinking",
        "thinking": "Thinking.",
        "signature": synthetic_signature("Thinking."),
    }
    assert message["usage"]["output_tokens"] == 30


def test_litellm_thinking_blocks_deliver_text_once_and_keep_the_upstream_signature() -> None:
    chunks = [
        chunk(reasoning="abc", thinking_blocks=[{"type": "thinking", "thinking": "abc", "signature": None}]),
        chunk(
            reasoning="", thinking_blocks=[{"type": "thinking", "thinking": "", "signature": "upstream-sig"}]
        ),
        chunk(content="done", finish_reason="stop"),
    ]
    events, _ = run(chunks)
    assert accumulate_stream(events)["content"][0] == {
        "type": "thinking",
        "thinking": "abc",
        "signature": "upstream-sig",
    }


def test_usage_only_final_chunk_with_cache() -> None:
    events, translator = run([chunk(content="x", finish_reason="stop"), usage_chunk(1000, 4, cached=900)])
    assert events[-2]["usage"] == {
        "input_tokens": 100,
        "output_tokens": 4,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 900,
    }
    assert translator.usage == events[-2]["usage"]


def test_without_upstream_usage_output_is_estimated() -> None:
    events, translator = run([chunk(content="a" * 40), chunk(finish_reason="stop")], input_tokens=77)
    assert translator.usage_estimated
    assert events[-2]["usage"]["input_tokens"] == 77 and events[-2]["usage"]["output_tokens"] == 10
    _, custom = run([chunk(content="abcdef"), chunk(finish_reason="stop")], estimate_output_tokens=len)
    assert custom.usage["output_tokens"] == 6


def test_empty_stream_still_is_a_valid_message() -> None:
    events, translator = run([])
    assert kinds(events) == ["message_start", "ping", "message_delta", "message_stop"]
    assert translator.stop_reason == "end_turn"


def test_error_chunks_and_empty_chunks_are_ignored() -> None:
    junk: list[dict[str, Any]] = [
        {"error": {"message": "x"}},
        {"choices": []},
        {"choices": [{"index": 0}]},
        {"choices": None, "usage": None},
    ]
    events, _ = run([*junk, chunk(content="ok"), *junk, chunk(finish_reason="stop")])
    assert accumulate_stream(events)["content"] == [{"type": "text", "text": "ok"}]


def test_error_after_the_stream_began() -> None:
    translator = OpenAIStreamTranslator(model="m", message_id="msg_e")
    events = translator.start() + translator.feed(chunk(content="partial"))
    events += translator.error("overloaded_error", "upstream went away")
    validate_stream(events)
    assert events[-1] == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "upstream went away"},
    }
    assert translator.finish() == [] and translator.feed(chunk(content="late")) == []


def test_feed_without_start_starts_the_message() -> None:
    translator = OpenAIStreamTranslator(model="m", message_id="msg_x")
    events = translator.feed(chunk(content="hi")) + translator.finish()
    validate_stream(events)


def test_length_finish_and_stop_sequence_reported_by_upstream() -> None:
    events, _ = run([chunk(content="abc", finish_reason="length")])
    assert events[-2]["delta"]["stop_reason"] == "max_tokens"
    stopped = chunk(content="abc", finish_reason="stop")
    stopped["choices"][0]["stop_reason"] = "\n\nHuman:"
    events, _ = run([stopped], stop_sequences=["\n\nHuman:"])
    assert events[-2]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "\n\nHuman:"}


def test_tool_call_with_finish_reason_stop_reports_tool_use() -> None:
    events, _ = run([chunk(tool_calls=[tool_fragment(0, id="c", name="T", args="{}")], finish_reason="stop")])
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


def test_index_reused_for_a_new_call_id_starts_a_new_block() -> None:
    chunks = [
        chunk(tool_calls=[tool_fragment(0, id="g1", name="A", args='{"x":1}')]),
        chunk(tool_calls=[tool_fragment(0, id="g2", name="B", args='{"y":2}')]),
        chunk(finish_reason="tool_calls"),
    ]
    events, _ = run(chunks)
    content = accumulate_stream(events)["content"]
    assert [(b["name"], b["input"]) for b in content] == [("A", {"x": 1}), ("B", {"y": 2})]


def test_arguments_before_the_name_are_held_until_the_block_can_start() -> None:
    chunks = [
        chunk(tool_calls=[{"index": 0, "id": "c1", "function": {"arguments": '{"q":'}}]),
        chunk(tool_calls=[{"index": 0, "function": {"name": "Search", "arguments": '"x"}'}}]),
        chunk(finish_reason="tool_calls"),
    ]
    events, _ = run(chunks)
    assert accumulate_stream(events)["content"] == [
        {"type": "tool_use", "id": "toolu_c1", "name": "Search", "input": {"q": "x"}}
    ]


def test_redacted_thinking_block_passes_through() -> None:
    events, _ = run(
        [chunk(thinking_blocks=[{"type": "redacted_thinking", "data": "opaque"}]), chunk(content="x")]
    )
    assert accumulate_stream(events)["content"][0] == {"type": "redacted_thinking", "data": "opaque"}


def test_events_are_json_serialisable_and_small() -> None:
    events, _ = run([chunk(content="hi"), chunk(finish_reason="stop")])
    for event in events:
        json.dumps(event)
