"""Anthropic Messages API wire format: Message JSON, the named-event stream, and error bodies."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from tests.fakes.upstream_render import Call, Usage, WireFormat, dumps, fragments, new_id, usage_for
from tests.fakes.upstream_script import Reply

_STOP = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens", "content_filter": "refusal"}

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {dumps({'type': kind, **data})}\n\n".encode()


def signature_for(reasoning: str) -> str:
    """A deterministic stand-in for the opaque signature Anthropic puts on thinking blocks."""
    return base64.b64encode(hashlib.sha256(reasoning.encode()).digest()).decode()


def _start_usage(u: Usage) -> dict[str, Any]:
    return {
        "input_tokens": u.input - u.cached,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": u.cached,
        "output_tokens": u.output,
    }


def _blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.reasoning is not None:
        blocks.append(
            {"type": "thinking", "thinking": reply.reasoning, "signature": signature_for(reply.reasoning)}
        )
    if reply.text or not reply.tool_calls:
        blocks.append({"type": "text", "text": reply.text})
    for tc in reply.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": tc.id or new_id("toolu_"), "name": tc.name, "input": tc.arguments}
        )
    return blocks


class AnthropicFormat(WireFormat):
    kind = "anthropic"

    def _stop_reason(self, reply: Reply) -> str:
        reason = reply.finish_reason()
        return _STOP.get(reason, reason)

    def completion(self, reply: Reply, call: Call) -> dict[str, Any]:
        return {
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": call.model,
            "content": _blocks(reply),
            "stop_reason": self._stop_reason(reply),
            "stop_sequence": None,
            "usage": _start_usage(usage_for(reply, call)),
            **reply.extra,
        }

    def stream(self, reply: Reply, call: Call) -> list[bytes]:
        usage = usage_for(reply, call)
        message: dict[str, Any] = {
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": call.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
        }
        if reply.stream_usage:
            # message_start carries the input side; output_tokens here is the usual placeholder.
            message["usage"] = {**_start_usage(usage), "output_tokens": 1}
        frames = [_event("message_start", {"message": message})]
        size = reply.chunk_size
        for index, block in enumerate(_blocks(reply)):
            block_frames = self._block_frames(index, block, size)
            if index == 0:
                # Like the real API: a ping right after the first content_block_start.
                block_frames.insert(1, _event("ping", {}))
            frames += block_frames
        delta: dict[str, Any] = {"delta": {"stop_reason": self._stop_reason(reply), "stop_sequence": None}}
        if reply.stream_usage:
            delta["usage"] = {"output_tokens": usage.output}
        delta.update(reply.extra)
        frames.append(_event("message_delta", delta))
        frames.append(_event("message_stop", {}))
        return frames

    def _block_frames(self, index: int, block: dict[str, Any], size: int) -> list[bytes]:
        def delta(d: dict[str, Any]) -> bytes:
            return _event("content_block_delta", {"index": index, "delta": d})

        kind = block["type"]
        start: dict[str, Any]
        if kind == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [
                delta({"type": "thinking_delta", "thinking": f}) for f in fragments(block["thinking"], size)
            ]
            deltas.append(delta({"type": "signature_delta", "signature": block["signature"]}))
        elif kind == "text":
            start = {"type": "text", "text": ""}
            deltas = [delta({"type": "text_delta", "text": f}) for f in fragments(block["text"], size)]
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            pieces = fragments(json.dumps(block["input"]), size)
            deltas = [delta({"type": "input_json_delta", "partial_json": p}) for p in ["", *pieces]]
        return [
            _event("content_block_start", {"index": index, "content_block": start}),
            *deltas,
            _event("content_block_stop", {"index": index}),
        ]

    def error(self, status: int, message: str) -> dict[str, Any]:
        etype = _ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": etype, "message": message}, "request_id": new_id("req_")}

    def error_in_200(self, message: str) -> dict[str, Any]:
        return self.error(529, message)

    def stream_error(self, message: str) -> bytes:
        body = self.error(529, message)
        return f"event: error\ndata: {dumps(body)}\n\n".encode()
