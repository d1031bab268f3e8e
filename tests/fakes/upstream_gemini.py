"""Gemini (Google AI Studio) generateContent / streamGenerateContent wire format."""

from __future__ import annotations

from typing import Any

from tests.fakes.upstream_render import Call, Usage, WireFormat, dumps, fragments, new_id, usage_for
from tests.fakes.upstream_script import Reply

_FINISH = {"stop": "STOP", "tool_calls": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY"}

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _sse(obj: Any) -> bytes:
    # Google's SSE frames end in CRLF pairs.
    return f"data: {dumps(obj)}\r\n\r\n".encode()


def _usage(u: Usage) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "promptTokenCount": u.input,
        "candidatesTokenCount": u.output - u.reasoning,
        "totalTokenCount": u.input + u.output,
    }
    if u.cached:
        meta["cachedContentTokenCount"] = u.cached
    if u.reasoning:
        meta["thoughtsTokenCount"] = u.reasoning
    return meta


def _function_parts(reply: Reply) -> list[dict[str, Any]]:
    parts = []
    for tc in reply.tool_calls:
        fc: dict[str, Any] = {"name": tc.name, "args": tc.arguments}
        if tc.id is not None:
            fc["id"] = tc.id
        parts.append({"functionCall": fc})
    return parts


def _finish(reply: Reply) -> str:
    reason = reply.finish_reason()
    return _FINISH.get(reason, reason)


class GeminiFormat(WireFormat):
    kind = "gemini"

    def _response(self, parts: list[dict[str, Any]], call: Call, response_id: str) -> dict[str, Any]:
        return {
            "candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
            "modelVersion": call.model,
            "responseId": response_id,
        }

    def completion(self, reply: Reply, call: Call) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        if reply.reasoning:
            parts.append({"text": reply.reasoning, "thought": True})
        if reply.text or not reply.tool_calls:
            parts.append({"text": reply.text})
        parts += _function_parts(reply)
        body = self._response(parts, call, new_id(""))
        body["candidates"][0]["finishReason"] = _finish(reply)
        body["usageMetadata"] = _usage(usage_for(reply, call))
        return body

    def stream(self, reply: Reply, call: Call) -> list[bytes]:
        size = reply.chunk_size
        chunks: list[list[dict[str, Any]]] = [
            [{"text": f, "thought": True}] for f in fragments(reply.reasoning or "", size)
        ]
        chunks += [[{"text": f}] for f in fragments(reply.text, size)]
        if reply.tool_calls:
            # Gemini never splits a function call: every call arrives whole, together, in one chunk.
            chunks.append(_function_parts(reply))
        if not chunks or "thought" in chunks[-1][0]:
            chunks.append([{"text": ""}])
        response_id = new_id("")
        bodies = [self._response(parts, call, response_id) for parts in chunks]
        bodies[-1]["candidates"][0]["finishReason"] = _finish(reply)
        if reply.stream_usage:
            bodies[-1]["usageMetadata"] = _usage(usage_for(reply, call))
        return [_sse(b) for b in bodies]

    def error(self, status: int, message: str) -> dict[str, Any]:
        return {"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}}

    def error_in_200(self, message: str) -> dict[str, Any]:
        return self.error(500, message)

    def stream_error(self, message: str) -> bytes:
        return _sse(self.error(500, message))
