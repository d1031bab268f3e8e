"""StreamValidator accepts Anthropic-shaped streams and pinpoints each way a stream can be wrong."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from router.wire.stream_events import InvalidStreamError, StreamValidator, accumulate_stream, validate_stream

Events = list[dict[str, Any]]


def good_stream() -> Events:
    usage = {
        "input_tokens": 10,
        "output_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    return [
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "m",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage,
            },
        },
        {"type": "ping"},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "s"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": '{"a"'},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": ": 1}"},
        },
        {"type": "content_block_stop", "index": 2},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 5},
        },
        {"type": "message_stop"},
    ]


def test_a_well_formed_stream_passes() -> None:
    validate_stream(good_stream())


def test_an_error_event_may_end_a_stream_midway() -> None:
    events = [*good_stream()[:8], {"type": "error", "error": {"type": "overloaded_error", "message": "x"}}]
    validate_stream(events)


def _drop(i: int) -> Callable[[Events], None]:
    def mutate(events: Events) -> None:
        del events[i]

    return mutate


def _set(i: int, path: tuple[str, ...], value: Any) -> Callable[[Events], None]:
    def mutate(events: Events) -> None:
        target = events[i]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (_drop(0), "before message_start"),
        (_drop(len(good_stream()) - 1), "without message_stop"),
        (_drop(len(good_stream()) - 2), "message_stop without a preceding message_delta"),
        (_drop(5), "while block 0 is open"),
        (_drop(4), "without a signature"),
        (_drop(2), "content_block_delta for index 0"),
        (_set(6, ("index",), 2), "expected 1"),
        (_set(7, ("delta", "type"), "input_json_delta"), "inside a 'text' block"),
        (_set(10, ("delta", "type"), "text_delta"), "inside a 'tool_use' block"),
        (_set(9, ("content_block", "input"), {"a": 1}), "input {}"),
        (_set(9, ("content_block", "type"), "video"), "unknown content block type"),
        (_set(13, ("delta", "stop_reason"), "finished"), "known stop reason"),
        (_set(13, ("usage",), {}), "output_tokens missing"),
        (_set(0, ("message", "id"), "abc"), "msg_"),
        (_set(1, ("type",), "bogus"), "unknown event type"),
        (lambda e: e.append({"type": "ping"}), "after the stream ended"),
        (lambda e: e.insert(1, copy.deepcopy(e[0])), "second message_start"),
        (lambda e: e.insert(14, copy.deepcopy(e[13])), "second message_delta"),
        (lambda e: e.insert(9, {"type": "content_block_stop", "index": 1}), "not open"),
    ],
)
def test_each_protocol_violation_is_reported(mutate: Callable[[Events], None], why: str) -> None:
    events = good_stream()
    mutate(events)
    with pytest.raises(InvalidStreamError, match=why):
        validate_stream(events)


def test_validator_can_be_fed_incrementally() -> None:
    validator = StreamValidator()
    for event in good_stream()[:3]:
        validator.feed(event)
    with pytest.raises(InvalidStreamError):
        validator.finish()


def test_accumulate_builds_the_final_message() -> None:
    message = accumulate_stream(good_stream())
    assert message["content"] == [
        {"type": "thinking", "thinking": "hm", "signature": "s"},
        {"type": "text", "text": "Hi"},
        {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"a": 1}},
    ]
    assert message["stop_reason"] == "tool_use" and message["stop_sequence"] is None
    assert message["usage"]["input_tokens"] == 10 and message["usage"]["output_tokens"] == 5
