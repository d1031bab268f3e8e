"""OpenAI chat completion (plain dict) -> Anthropic Message dict.

Content order is what Anthropic models produce: thinking, then text, then tool_use blocks. The
streamed translation (`openai_stream`) yields the same blocks for the same upstream output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from router.translate.openai_common import (
    anthropic_tool_id,
    matched_stop_sequence,
    parse_tool_arguments,
    stop_reason_for,
    usage_from_openai,
)
from router.translate.stop_sequences import cut_at_stop
from router.translate.thinking import synthetic_signature
from router.wire.responses import new_message_id

__all__ = ["text_of", "thinking_blocks_of", "to_anthropic_message"]


def to_anthropic_message(
    resp: Mapping[str, Any],
    *,
    model: str,
    message_id: str | None = None,
    stop_sequences: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The Anthropic Message for an OpenAI chat completion `resp`, reported as `model`.

    A stop sequence is reported when the upstream names the one it matched, or when one of
    `stop_sequences` occurs in the text: the text is cut where the first one completes (Anthropic never
    returns it in the text) and the tool calls the model would not have reached are dropped.
    """
    choices = resp.get("choices")
    choice: Mapping[str, Any] = choices[0] if isinstance(choices, list) and choices else {}
    message: Mapping[str, Any] = choice.get("message") or {}
    finish_reason = choice.get("finish_reason")

    content: list[dict[str, Any]] = thinking_blocks_of(message)

    text = text_of(message.get("content"))
    refusal = message.get("refusal")
    if not text and isinstance(refusal, str) and refusal:
        text, finish_reason = refusal, "content_filter"
    stop_sequence = matched_stop_sequence(choice, stop_sequences)
    if stop_sequence is None and stop_sequences:
        text, stop_sequence = cut_at_stop(text, stop_sequences)
    if text:
        content.append({"type": "text", "text": text})

    tool_calls = message.get("tool_calls")
    calls: list[Any] = list(tool_calls) if isinstance(tool_calls, list) else []
    legacy = message.get("function_call")
    if isinstance(legacy, Mapping):
        calls.append({"id": None, "function": legacy})
    if stop_sequence is not None:
        calls = []
    has_tools = False
    for call in calls:
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": anthropic_tool_id(call.get("id")),
                "name": function.get("name") or "",
                "input": parse_tool_arguments(function.get("arguments")),
            }
        )
        has_tools = True

    if stop_sequence is not None:
        stop_reason = "stop_sequence"
    else:
        stop_reason = stop_reason_for(finish_reason, has_tool_calls=has_tools)
    usage = resp.get("usage")
    return {
        "id": message_id or new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage_from_openai(usage if isinstance(usage, Mapping) else {}),
    }


def text_of(content: Any) -> str:
    """Message content as text: a string, or a list of parts whose text parts are concatenated."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text") or "") for p in content if isinstance(p, Mapping) and p.get("type") == "text"
        )
    return ""


def thinking_blocks_of(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Thinking blocks from `thinking_blocks` (LiteLLM's form, carrying upstream signatures) when
    present, else one block from `reasoning_content` / `reasoning` with a synthetic signature."""
    blocks = message.get("thinking_blocks")
    out: list[dict[str, Any]] = []
    if isinstance(blocks, list):
        for block in blocks:
            if not isinstance(block, Mapping):
                continue
            if block.get("type") == "redacted_thinking":
                if block.get("data"):
                    out.append({"type": "redacted_thinking", "data": block["data"]})
                continue
            thinking = block.get("thinking")
            thinking = thinking if isinstance(thinking, str) else ""
            signature = block.get("signature")
            if thinking or signature:
                out.append(
                    {
                        "type": "thinking",
                        "thinking": thinking,
                        "signature": signature if signature else synthetic_signature(thinking),
                    }
                )
        if out:
            return out
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        out.append({"type": "thinking", "thinking": reasoning, "signature": synthetic_signature(reasoning)})
    return out
