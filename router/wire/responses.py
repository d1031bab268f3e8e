"""The non-streaming Message response, documented as TypedDicts.

Responses are built as plain dicts on the hot path (cheap, and msgspec encodes them directly); these
types say exactly which keys each dict carries.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal, NotRequired, TypedDict, get_args

__all__ = [
    "STOP_REASONS",
    "MessageResponse",
    "RedactedThinkingContent",
    "ResponseContentBlock",
    "StopReason",
    "TextContent",
    "ThinkingContent",
    "ToolUseContent",
    "Usage",
    "new_message_id",
    "new_request_id",
    "new_tool_use_id",
]

StopReason = Literal[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
]
STOP_REASONS: frozenset[str] = frozenset(get_args(StopReason))


class TextContent(TypedDict):
    type: Literal["text"]
    text: str
    citations: NotRequired[list[Any] | None]


class ThinkingContent(TypedDict):
    type: Literal["thinking"]
    thinking: str
    signature: str


class RedactedThinkingContent(TypedDict):
    type: Literal["redacted_thinking"]
    data: str


class ToolUseContent(TypedDict):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


ResponseContentBlock = TextContent | ThinkingContent | RedactedThinkingContent | ToolUseContent


class Usage(TypedDict):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int


class MessageResponse(TypedDict):
    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[ResponseContentBlock]
    stop_reason: StopReason | None
    stop_sequence: str | None
    usage: Usage


_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _random_suffix(length: int = 24) -> str:
    # One urandom call and integer base-62 digits: ~4x faster than secrets.choice per character.
    n = int.from_bytes(secrets.token_bytes(18))
    out = []
    for _ in range(length):
        n, digit = divmod(n, 62)
        out.append(_ALPHABET[digit])
    return "".join(out)


def new_request_id() -> str:
    """The `request-id` header of every /v1 answer (and the key of its usage record)."""
    return "req_" + secrets.token_hex(12)


def new_message_id() -> str:
    """An id of Anthropic's shape: "msg_" + 24 base62 characters."""
    return "msg_" + _random_suffix()


def new_tool_use_id() -> str:
    """A tool_use id: "toolu_" + 24 base62 characters."""
    return "toolu_" + _random_suffix()
