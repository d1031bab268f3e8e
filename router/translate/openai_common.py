"""Pieces shared by the non-streamed and the streamed OpenAI -> Anthropic translation.

Keeping them in one place is what makes an accumulated stream equal the non-streamed Message:
same tool ids, same stop reasons, same usage arithmetic.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

from router.wire.responses import STOP_REASONS, Usage, new_tool_use_id

__all__ = [
    "anthropic_tool_id",
    "empty_usage",
    "matched_stop_sequence",
    "parse_tool_arguments",
    "stop_reason_for",
    "usage_from_openai",
]

_UNSAFE_ID_CHARS: Final = re.compile(r"[^A-Za-z0-9_-]")
_FINISH_TO_STOP: Final[dict[str, str]] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def anthropic_tool_id(upstream_id: str | None) -> str:
    """Our tool_use id for an upstream tool call id: kept if already "toolu_…", else prefixed.

    Deterministic, so the id the client sends back in tool_result maps to the same call upstream.
    """
    if not upstream_id:
        return new_tool_use_id()
    if upstream_id.startswith("toolu_"):
        return _UNSAFE_ID_CHARS.sub("_", upstream_id)
    return "toolu_" + _UNSAFE_ID_CHARS.sub("_", upstream_id)


def stop_reason_for(finish_reason: str | None, *, has_tool_calls: bool) -> str:
    """Anthropic stop_reason for an OpenAI finish_reason.

    Some upstreams finish a tool-calling turn with "stop"; Claude Code runs tools only on
    "tool_use", so a turn that produced tool calls and ended normally is reported as tool_use.
    """
    if finish_reason is None or finish_reason == "stop":
        return "tool_use" if has_tool_calls else "end_turn"
    mapped = _FINISH_TO_STOP.get(finish_reason)
    if mapped is not None:
        return mapped
    if finish_reason in STOP_REASONS:
        return finish_reason
    return "tool_use" if has_tool_calls else "end_turn"


def matched_stop_sequence(choice: Mapping[str, Any], stop_sequences: Sequence[str] | None) -> str | None:
    """The stop sequence an upstream says it matched (vLLM `stop_reason`, SGLang `matched_stop`)."""
    if not stop_sequences:
        return None
    for key in ("matched_stop", "stop_reason"):
        value = choice.get(key)
        if isinstance(value, str) and value in stop_sequences:
            return value
    return None


def empty_usage(input_tokens: int = 0) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def usage_from_openai(usage: Mapping[str, Any]) -> Usage:
    """Anthropic usage from OpenAI usage. prompt_tokens includes cached tokens (OpenAI, and LiteLLM's
    normalisation of Anthropic/Gemini), so cache reads and writes are subtracted from input_tokens."""
    details = usage.get("prompt_tokens_details")
    details = details if isinstance(details, Mapping) else {}
    cache_read = _int(details.get("cached_tokens")) or _int(usage.get("cache_read_input_tokens"))
    cache_write = _int(usage.get("cache_creation_input_tokens")) or _int(details.get("cache_creation_tokens"))
    return {
        "input_tokens": max(0, _int(usage.get("prompt_tokens")) - cache_read - cache_write),
        "output_tokens": _int(usage.get("completion_tokens")),
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
    }


def parse_tool_arguments(text: str | None) -> dict[str, Any]:
    """The tool input object from an upstream `arguments` string.

    Empty arguments are `{}`. Malformed ones are repaired when the fix is unambiguous (a JSON object
    encoded twice as a string, trailing garbage after a complete object, a stream cut off mid-object);
    otherwise the text is kept as `{"_raw": text}` so the tool's own validation reports it to the model
    instead of the call silently running with no arguments.
    """
    if text is None or not text.strip():
        return {}
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError:
        value = _repair(text)
    if isinstance(value, str):
        with contextlib.suppress(msgspec.DecodeError):
            value = msgspec.json.decode(value)
    return value if isinstance(value, dict) else {"_raw": text}


def _repair(text: str) -> Any:
    stripped = text.strip()
    try:
        value, _ = json.JSONDecoder().raw_decode(stripped)
        return value
    except json.JSONDecodeError:
        pass
    closed = _close_truncated(stripped)
    if closed is not None:
        try:
            return msgspec.json.decode(closed)
        except msgspec.DecodeError:
            pass
    return None


def _close_truncated(text: str) -> str | None:
    """Append the quotes and brackets a truncated JSON value is missing, if that is all it lacks."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and (not stack or stack.pop() != ch):
            return None
    if not stack and not in_string:
        return None
    tail = ('"' if in_string else "") + "".join(reversed(stack))
    body = text.rstrip()
    if not in_string and body.endswith(","):
        body = body[:-1]
    return body + tail
