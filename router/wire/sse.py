"""Server-sent-event framing of Anthropic stream events."""

from __future__ import annotations

import msgspec

from router.wire.stream_events import StreamEvent

__all__ = ["encode_error_event", "encode_event"]

_encode = msgspec.json.Encoder().encode


def encode_event(event: StreamEvent) -> bytes:
    """`event: <type>\\ndata: <compact json>\\n\\n`, exactly as Anthropic frames it."""
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + _encode(event) + b"\n\n"


def encode_error_event(error_type: str, message: str) -> bytes:
    return encode_event({"type": "error", "error": {"type": error_type, "message": message}})
