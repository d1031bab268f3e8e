"""SSE framing: exactly Anthropic's `event:` / `data:` lines with compact JSON."""

from __future__ import annotations

import json

from router.wire.sse import encode_error_event, encode_event
from router.wire.stream_events import StreamEvent


def test_event_is_framed_with_its_type_and_compact_json() -> None:
    event: StreamEvent = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": 'hé "x"\n'},
    }
    frame = encode_event(event)
    assert frame.startswith(b"event: content_block_delta\ndata: {")
    assert frame.endswith(b"}\n\n")
    assert frame.count(b"\n") == 3  # a newline inside the text is escaped, never a raw line break
    _header, data_line = frame[:-2].split(b"\n")
    payload = data_line.removeprefix(b"data: ")
    assert b'", "' not in payload and b'": ' not in payload
    assert json.loads(payload) == event


def test_error_event_has_anthropics_error_shape() -> None:
    frame = encode_error_event("overloaded_error", "Overloaded")
    assert frame == (
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
