"""OpenAI chat-completions wire format (also what Azure OpenAI speaks)."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.fakes.upstream_render import Call, Usage, WireFormat, dumps, fragments, new_id, usage_for
from tests.fakes.upstream_script import Reply

# OpenAI's error "type" and "code" per status, as the real API sends them.
_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    408: ("timeout", None),
    413: ("invalid_request_error", "request_too_large"),
    429: ("requests", "rate_limit_exceeded"),
}


def _sse(obj: Any) -> bytes:
    return f"data: {dumps(obj)}\n\n".encode()


def _usage(u: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": u.input,
        "completion_tokens": u.output,
        "total_tokens": u.input + u.output,
        "prompt_tokens_details": {"cached_tokens": u.cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning, "audio_tokens": 0},
    }


def _tool_call_ids(reply: Reply) -> list[str]:
    return [tc.id or new_id("call_") for tc in reply.tool_calls]


class OpenAIFormat(WireFormat):
    def __init__(self, kind: str = "openai") -> None:
        self.kind = kind

    def completion(self, reply: Reply, call: Call) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
        if reply.reasoning is not None:
            message["reasoning_content"] = reply.reasoning
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": cid,
                    "type": "function",
                    "function": {"name": tc.name, "arguments": json.dumps(tc.arguments)},
                }
                for cid, tc in zip(_tool_call_ids(reply), reply.tool_calls, strict=True)
            ]
        return {
            "id": new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": call.model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason()}
            ],
            "usage": _usage(usage_for(reply, call)),
        }

    def stream(self, reply: Reply, call: Call) -> list[bytes]:
        base = {
            "id": new_id("chatcmpl-"),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": call.model,
            "system_fingerprint": "fp_fake",
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return _sse({**base, "choices": [choice]})

        frames = [chunk({"role": "assistant", "content": ""})]
        frames += [
            chunk({"reasoning_content": f}) for f in fragments(reply.reasoning or "", reply.chunk_size)
        ]
        frames += [chunk({"content": f}) for f in fragments(reply.text, reply.chunk_size)]
        for index, (cid, tc) in enumerate(zip(_tool_call_ids(reply), reply.tool_calls, strict=True)):
            head = {
                "index": index,
                "id": cid,
                "type": "function",
                "function": {"name": tc.name, "arguments": ""},
            }
            frames.append(chunk({"tool_calls": [head]}))
            for piece in fragments(json.dumps(tc.arguments), reply.chunk_size):
                frames.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
        frames.append(chunk({}, reply.finish_reason()))
        if call.include_usage and reply.stream_usage:
            frames.append(_sse({**base, "choices": [], "usage": _usage(usage_for(reply, call))}))
        frames.append(b"data: [DONE]\n\n")
        return frames

    def error(self, status: int, message: str) -> dict[str, Any]:
        etype, code = _ERROR_KINDS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None)
        )
        return {"error": {"message": message, "type": etype, "param": None, "code": code}}

    def error_in_200(self, message: str) -> dict[str, Any]:
        return self.error(500, message)

    def stream_error(self, message: str) -> bytes:
        return _sse(self.error(500, message))
