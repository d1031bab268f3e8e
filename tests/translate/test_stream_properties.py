"""Property: any fragmentation / interleaving of upstream output yields a valid Anthropic stream that
carries exactly the upstream's text, reasoning and tool-call arguments, and equals the non-streamed
translation of the same output."""

from __future__ import annotations

import itertools
import json
from typing import Any

from anthropic.lib.streaming._messages import accumulate_event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.translate.from_openai import to_anthropic_message
from router.translate.openai_stream import OpenAIStreamTranslator
from router.wire.stream_events import accumulate_stream, validate_stream

_RANK = {"reasoning": 0, "text": 1, "tool": 2}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**9), 10**9) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(min_size=1, max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
segments = st.lists(
    st.one_of(
        st.tuples(st.just("reasoning"), st.text(min_size=1, max_size=40)),
        st.tuples(st.just("text"), st.text(min_size=1, max_size=40)),
        st.tuples(st.just("tool"), st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=4)),
    ),
    max_size=7,
)


def _split(data: st.DataObject, text: str) -> list[str]:
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(text)), max_size=4))))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def _pieces(
    data: st.DataObject, segs: list[tuple[str, Any]]
) -> tuple[list[tuple[str, Any]], list[dict[str, Any]]]:
    """Upstream pieces in order, plus the tool calls they encode."""
    pieces: list[tuple[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for kind, payload in segs:
        if kind == "tool":
            index = len(calls)
            call = {"id": f"call_{index}", "name": f"tool_{index}", "args": payload}
            calls.append(call)
            arguments = json.dumps(payload)
            parts = _split(data, arguments)
            first_with_args = data.draw(st.booleans())
            head = parts.pop(0) if first_with_args and parts else ""
            pieces.append(
                (
                    "tool",
                    {
                        "index": index,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": head},
                    },
                )
            )
            pieces.extend(("tool", {"index": index, "function": {"arguments": p}}) for p in parts)
        else:
            pieces.extend((kind, p) for p in _split(data, payload))
    return pieces, calls


def _chunks(data: st.DataObject, pieces: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Group pieces into chunks at random boundaries, as long as one chunk's delta can hold them in
    the order the translator reads a delta (reasoning, content, tool calls)."""
    chunks: list[dict[str, Any]] = []
    delta: dict[str, Any] | None = None
    last_rank = -1
    for kind, piece in pieces:
        fits = (
            delta is not None
            and _RANK[kind] >= last_rank
            and (kind == "tool" or ("reasoning_content" if kind == "reasoning" else "content") not in delta)
        )
        if not fits or data.draw(st.booleans()):
            delta = {"role": "assistant"}
            chunks.append({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        assert delta is not None
        if kind == "reasoning":
            delta["reasoning_content"] = piece
        elif kind == "text":
            delta["content"] = piece
        else:
            delta.setdefault("tool_calls", []).append(piece)
        last_rank = _RANK[kind]
    return chunks


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(segs=segments, data=st.data())
def test_any_fragmentation_yields_a_valid_faithful_stream(
    segs: list[tuple[str, Any]], data: st.DataObject
) -> None:
    pieces, calls = _pieces(data, segs)
    chunks = _chunks(data, pieces)
    finish = "tool_calls" if calls else "stop"
    finish_on_last_chunk = data.draw(st.booleans())
    if chunks and finish_on_last_chunk:
        chunks[-1]["choices"][0]["finish_reason"] = finish
    else:
        chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    usage = {"prompt_tokens": 30, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 10}}
    with_usage = data.draw(st.booleans())
    if with_usage:
        chunks.append({"choices": [], "usage": usage})

    translator = OpenAIStreamTranslator(model="claude-x", message_id="msg_prop", input_tokens=5)
    events = translator.start()
    for c in chunks:
        events.extend(translator.feed(c))
    events.extend(translator.finish())

    validate_stream(events)
    starts = [e["index"] for e in events if e["type"] == "content_block_start"]
    assert starts == list(range(len(starts)))

    expected_text = "".join(p for k, p in segs if k == "text")
    expected_reasoning = "".join(p for k, p in segs if k == "reasoning")
    text = "".join(
        e["delta"]["text"]
        for e in events
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "text_delta"
    )
    reasoning = "".join(
        e["delta"]["thinking"]
        for e in events
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "thinking_delta"
    )
    assert (text, reasoning) == (expected_text, expected_reasoning)

    streamed = accumulate_stream(events)
    tools = [b for b in streamed["content"] if b["type"] == "tool_use"]
    assert [(t["id"], t["name"], t["input"]) for t in tools] == [
        (f"toolu_{c['id']}", c["name"], c["args"]) for c in calls
    ]
    assert translator.delivered_text_chars == len(expected_text) + len(expected_reasoning) + sum(
        len(json.dumps(c["args"])) for c in calls
    )

    # The same output, non-streamed, translates to the same message (blocks compared per kind).
    message: dict[str, Any] = {"role": "assistant", "content": expected_text or None}
    if expected_reasoning:
        message["reasoning_content"] = expected_reasoning
    if calls:
        message["tool_calls"] = [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c["args"])},
            }
            for c in calls
        ]
    response = {
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage if with_usage else None,
    }
    direct = to_anthropic_message(response, model="claude-x", message_id="msg_prop")
    assert streamed["stop_reason"] == direct["stop_reason"]
    assert [b for b in streamed["content"] if b["type"] == "tool_use"] == [
        b for b in direct["content"] if b["type"] == "tool_use"
    ]
    if with_usage:
        assert streamed["usage"] == direct["usage"]
    if (
        len([k for k, _ in segs if k == "reasoning"])
        == len([b for b in streamed["content"] if b["type"] == "thinking"])
        == 1
    ):
        assert (
            streamed["content"][[b["type"] for b in streamed["content"]].index("thinking")]
            == direct["content"][0]
        )

    # And the anthropic SDK's own accumulator agrees.
    snapshot = None
    json_bufs: dict[int, bytes] = {}
    for event in events:
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=json_bufs)  # type: ignore[arg-type]
    assert snapshot is not None
    assert [getattr(b, "input", None) for b in snapshot.content if b.type == "tool_use"] == [
        c["args"] for c in calls
    ]
