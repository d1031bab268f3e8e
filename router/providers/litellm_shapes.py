"""LiteLLM's response objects -> the plain OpenAI-shaped dicts the translation takes.

`model_dump()` builds every field pydantic knows about, per chunk; we read only what the translation
uses, straight off the attributes.
"""

from __future__ import annotations

from typing import Any

__all__ = ["chunk_to_dict", "response_to_dict", "usage_to_dict"]


def _tool_calls(calls: Any) -> list[dict[str, Any]]:
    out = []
    for position, tc in enumerate(calls):
        function = getattr(tc, "function", None)
        index = getattr(tc, "index", None)
        out.append(
            {
                "index": index if isinstance(index, int) else position,
                "id": getattr(tc, "id", None),
                "type": "function",
                "function": {
                    "name": getattr(function, "name", None),
                    "arguments": getattr(function, "arguments", None) or "",
                },
            }
        )
    return out


def _thinking_blocks(blocks: Any) -> list[dict[str, Any]]:
    return [dict(b) if not isinstance(b, dict) else b for b in blocks if b is not None]


def usage_to_dict(usage: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "prompt_tokens": getattr(usage, "prompt_tokens", 0) or 0,
        "completion_tokens": getattr(usage, "completion_tokens", 0) or 0,
    }
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details is not None else None
    if cached:
        out["prompt_tokens_details"] = {"cached_tokens": cached}
    for key in ("cache_read_input_tokens", "cache_creation_input_tokens"):
        value = getattr(usage, key, None)
        if isinstance(value, int) and value:
            out[key] = value
    return out


def _message_fields(source: Any, out: dict[str, Any]) -> None:
    content = getattr(source, "content", None)
    if content:
        out["content"] = content
    reasoning = getattr(source, "reasoning_content", None)
    if reasoning:
        out["reasoning_content"] = reasoning
    blocks = getattr(source, "thinking_blocks", None)
    if blocks:
        out["thinking_blocks"] = _thinking_blocks(blocks)
    calls = getattr(source, "tool_calls", None)
    if calls:
        out["tool_calls"] = _tool_calls(calls)


def response_to_dict(resp: Any) -> dict[str, Any]:
    choices = []
    for choice in getattr(resp, "choices", None) or []:
        message: dict[str, Any] = {"role": "assistant", "content": None}
        _message_fields(getattr(choice, "message", None), message)
        finish = getattr(choice, "finish_reason", None)
        choices.append({"index": 0, "message": message, "finish_reason": finish})
    out: dict[str, Any] = {"id": getattr(resp, "id", None), "choices": choices}
    usage = getattr(resp, "usage", None)
    if usage is not None:
        out["usage"] = usage_to_dict(usage)
    return out


def chunk_to_dict(chunk: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    choices = getattr(chunk, "choices", None)
    if choices:
        choice = choices[0]
        delta: dict[str, Any] = {}
        source = getattr(choice, "delta", None)
        if source is not None:
            _message_fields(source, delta)
        finish = getattr(choice, "finish_reason", None)
        out["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    usage = getattr(chunk, "usage", None)
    if usage is not None:
        out["usage"] = usage_to_dict(usage)
    return out
