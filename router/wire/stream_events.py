"""The closed set of Anthropic stream events, a validator for event sequences, and an accumulator.

`StreamValidator` checks what a client SDK relies on: message_start first; content blocks opened with
indexes 0, 1, 2... one at a time, each receiving only deltas of its own kind and stopped exactly once;
thinking blocks carrying a signature; then one message_delta and a final message_stop (or an `error`
event ending the stream at any point). `accumulate_stream` folds a valid sequence into the Message
the anthropic SDK would build, so tests can compare a stream with a non-streamed response.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal, NoReturn, TypedDict

from router.wire.responses import STOP_REASONS, MessageResponse, ResponseContentBlock, Usage

__all__ = [
    "ContentBlockDeltaEvent",
    "ContentBlockStartEvent",
    "ContentBlockStopEvent",
    "ErrorEvent",
    "InputJsonDelta",
    "InvalidStreamError",
    "MessageDeltaEvent",
    "MessageStartEvent",
    "MessageStopEvent",
    "PingEvent",
    "SignatureDelta",
    "StreamEvent",
    "StreamValidator",
    "TextDelta",
    "ThinkingDelta",
    "accumulate_stream",
    "validate_stream",
]


class MessageStartEvent(TypedDict):
    type: Literal["message_start"]
    message: MessageResponse


class ContentBlockStartEvent(TypedDict):
    type: Literal["content_block_start"]
    index: int
    content_block: ResponseContentBlock


class PingEvent(TypedDict):
    type: Literal["ping"]


class TextDelta(TypedDict):
    type: Literal["text_delta"]
    text: str


class InputJsonDelta(TypedDict):
    type: Literal["input_json_delta"]
    partial_json: str


class ThinkingDelta(TypedDict):
    type: Literal["thinking_delta"]
    thinking: str


class SignatureDelta(TypedDict):
    type: Literal["signature_delta"]
    signature: str


class ContentBlockDeltaEvent(TypedDict):
    type: Literal["content_block_delta"]
    index: int
    delta: TextDelta | InputJsonDelta | ThinkingDelta | SignatureDelta


class ContentBlockStopEvent(TypedDict):
    type: Literal["content_block_stop"]
    index: int


class _MessageDeltaBody(TypedDict):
    stop_reason: str | None
    stop_sequence: str | None


class MessageDeltaEvent(TypedDict):
    type: Literal["message_delta"]
    delta: _MessageDeltaBody
    usage: Usage


class MessageStopEvent(TypedDict):
    type: Literal["message_stop"]


class _ErrorBody(TypedDict):
    type: str
    message: str


class ErrorEvent(TypedDict):
    type: Literal["error"]
    error: _ErrorBody


StreamEvent = (
    MessageStartEvent
    | ContentBlockStartEvent
    | PingEvent
    | ContentBlockDeltaEvent
    | ContentBlockStopEvent
    | MessageDeltaEvent
    | MessageStopEvent
    | ErrorEvent
)


class InvalidStreamError(ValueError):
    """The event sequence is not a valid Anthropic stream."""


# Which delta kinds each block kind may receive.
_DELTAS_FOR_BLOCK: dict[str, frozenset[str]] = {
    "text": frozenset({"text_delta", "citations_delta"}),
    "thinking": frozenset({"thinking_delta", "signature_delta"}),
    "redacted_thinking": frozenset(),
    "tool_use": frozenset({"input_json_delta"}),
    "server_tool_use": frozenset({"input_json_delta"}),
    "web_search_tool_result": frozenset(),
}


class StreamValidator:
    """Feed events one at a time (`feed`), then call `finish`; raises `InvalidStreamError`."""

    def __init__(self) -> None:
        self._position = 0
        self._started = False
        self._ended = False
        self._delta_seen = False
        self._next_index = 0
        self._open_index: int | None = None
        self._open_kind: str | None = None
        self._open_signed = False

    def _fail(self, why: str) -> NoReturn:
        raise InvalidStreamError(f"event {self._position}: {why}")

    def feed(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        if self._ended:
            self._fail(f"{kind!r} after the stream ended")
        if kind == "error":
            error = event.get("error")
            if not isinstance(error, Mapping) or not isinstance(error.get("type"), str):
                self._fail("error event without error.type")
            self._ended = True
        elif kind == "message_start":
            self._message_start(event)
        elif not self._started:
            self._fail(f"{kind!r} before message_start")
        elif kind == "ping":
            pass
        elif kind == "content_block_start":
            self._block_start(event)
        elif kind == "content_block_delta":
            self._block_delta(event)
        elif kind == "content_block_stop":
            self._block_stop(event)
        elif kind == "message_delta":
            self._message_delta(event)
        elif kind == "message_stop":
            if not self._delta_seen:
                self._fail("message_stop without a preceding message_delta")
            self._ended = True
        else:
            self._fail(f"unknown event type {kind!r}")
        self._position += 1

    def finish(self) -> None:
        if not self._ended:
            raise InvalidStreamError("stream ended without message_stop or an error event")

    def _message_start(self, event: Mapping[str, Any]) -> None:
        if self._started:
            self._fail("second message_start")
        message = event.get("message")
        if not isinstance(message, Mapping):
            self._fail("message_start without a message")
        if message.get("type") != "message" or message.get("role") != "assistant":
            self._fail("message_start.message must be an assistant message")
        if message.get("content") != []:
            self._fail("message_start.message.content must be empty")
        if not str(message.get("id", "")).startswith("msg_"):
            self._fail("message id must start with msg_")
        usage = message.get("usage")
        if not isinstance(usage, Mapping) or not isinstance(usage.get("input_tokens"), int):
            self._fail("message_start.message.usage.input_tokens missing")
        self._started = True

    def _block_start(self, event: Mapping[str, Any]) -> None:
        if self._delta_seen:
            self._fail("content_block_start after message_delta")
        if self._open_index is not None:
            self._fail(f"content_block_start while block {self._open_index} is open")
        if event.get("index") != self._next_index:
            self._fail(f"content_block_start index {event.get('index')!r}, expected {self._next_index}")
        block = event.get("content_block")
        block_kind = block.get("type") if isinstance(block, Mapping) else None
        if not isinstance(block, Mapping) or block_kind not in _DELTAS_FOR_BLOCK:
            self._fail(f"unknown content block type {block_kind!r}")
        well_formed_tool = block.get("input") == {} and block.get("id") and block.get("name")
        if block_kind == "tool_use" and not well_formed_tool:
            self._fail("tool_use block must start with id, name and input {}")
        self._open_index = self._next_index
        self._open_kind = str(block_kind)
        self._open_signed = bool(block.get("signature")) if block_kind == "thinking" else True
        self._next_index += 1

    def _block_delta(self, event: Mapping[str, Any]) -> None:
        if self._open_index is None or event.get("index") != self._open_index:
            self._fail(f"content_block_delta for index {event.get('index')!r}, which is not open")
        delta = event.get("delta")
        delta_kind = delta.get("type") if isinstance(delta, Mapping) else None
        assert self._open_kind is not None
        if delta_kind not in _DELTAS_FOR_BLOCK[self._open_kind]:
            self._fail(f"{delta_kind!r} delta inside a {self._open_kind!r} block")
        if delta_kind == "signature_delta":
            self._open_signed = True

    def _block_stop(self, event: Mapping[str, Any]) -> None:
        if self._open_index is None or event.get("index") != self._open_index:
            self._fail(f"content_block_stop for index {event.get('index')!r}, which is not open")
        if not self._open_signed:
            self._fail("thinking block stopped without a signature")
        self._open_index = None
        self._open_kind = None

    def _message_delta(self, event: Mapping[str, Any]) -> None:
        if self._open_index is not None:
            self._fail(f"message_delta while block {self._open_index} is open")
        if self._delta_seen:
            self._fail("second message_delta")
        delta = event.get("delta")
        if not isinstance(delta, Mapping) or (
            delta.get("stop_reason") is not None and delta.get("stop_reason") not in STOP_REASONS
        ):
            self._fail("message_delta.delta.stop_reason is not a known stop reason")
        usage = event.get("usage")
        if not isinstance(usage, Mapping) or not isinstance(usage.get("output_tokens"), int):
            self._fail("message_delta.usage.output_tokens missing")
        self._delta_seen = True


def validate_stream(events: Iterable[Mapping[str, Any]]) -> None:
    """Raise `InvalidStreamError` unless `events` is a complete, valid Anthropic stream."""
    validator = StreamValidator()
    for event in events:
        validator.feed(event)
    validator.finish()


def accumulate_stream(events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Fold a valid stream into the Message dict, the way the anthropic SDK's accumulator does."""
    message: dict[str, Any] = {}
    buffers: dict[int, list[str]] = {}
    for event in events:
        kind = event["type"]
        if kind == "message_start":
            message = {**event["message"], "content": [], "usage": dict(event["message"]["usage"])}
        elif kind == "content_block_start":
            message["content"].append(dict(event["content_block"]))
        elif kind == "content_block_delta":
            block, delta = message["content"][event["index"]], event["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "input_json_delta":
                buffers.setdefault(event["index"], []).append(delta["partial_json"])
        elif kind == "content_block_stop":
            pieces = buffers.pop(event["index"], None)
            if pieces is not None:
                raw = "".join(pieces)
                message["content"][event["index"]]["input"] = json.loads(raw) if raw else {}
        elif kind == "message_delta":
            message["stop_reason"] = event["delta"].get("stop_reason")
            message["stop_sequence"] = event["delta"].get("stop_sequence")
            for key, value in event.get("usage", {}).items():
                if value is not None:
                    message["usage"][key] = value
    return message
