"""Pure helpers for Anthropic targets, which receive the client's raw body almost untouched.

Claude Code's gateway protocol asks for every body field to pass unchanged: new Claude Code features arrive
as new top-level fields (`safeguards`, `context_management`, ...) and an allowlist would silently switch each
off until someone edited it. So nothing is filtered; Anthropic's API judges the fields itself, and nothing
here interprets them (no field steers the router).

Only what routing requires changes: the model name, max_tokens (clamped to a cap, with the thinking budget
kept below it as Anthropic requires), a temperature override, and thinking blocks that carry our synthetic
signatures (produced from another provider's reasoning after a fallback): a real Anthropic model would
reject their signatures, so they are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from router.translate.thinking import is_synthetic_signature

__all__ = ["prepare_native_request", "rewrite_model"]

_MIN_THINKING_BUDGET: Final = 1024


def prepare_native_request(
    raw: Mapping[str, Any],
    *,
    model: str,
    max_tokens_cap: int | None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The body to send to an Anthropic target. `raw` is not modified; unchanged parts are shared.

    Override "reasoning_effort" has no Anthropic equivalent and is ignored here.
    """
    overrides = overrides or {}
    body = dict(raw)
    body["model"] = model

    max_tokens = raw.get("max_tokens")
    if isinstance(max_tokens, int):
        for cap in (max_tokens_cap, overrides.get("max_tokens")):
            if isinstance(cap, int) and cap > 0:
                max_tokens = min(max_tokens, cap)
        body["max_tokens"] = max_tokens
    if overrides.get("temperature") is not None:
        body["temperature"] = overrides["temperature"]

    messages = raw.get("messages")
    lost_in_last_assistant = False
    if isinstance(messages, list):
        body["messages"], lost_in_last_assistant = _without_synthetic_thinking(messages)

    thinking = raw.get("thinking")
    if isinstance(thinking, Mapping) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if lost_in_last_assistant:
            # Anthropic requires the assistant turn being continued to start with its (signed)
            # thinking block when thinking is on; with that block gone, continue without thinking.
            del body["thinking"]
        elif isinstance(budget, int) and isinstance(max_tokens, int) and budget >= max_tokens:
            if max_tokens - 1 >= _MIN_THINKING_BUDGET:
                body["thinking"] = {**thinking, "budget_tokens": max_tokens - 1}
            else:
                del body["thinking"]
    return body


def _without_synthetic_thinking(messages: list[Any]) -> tuple[list[Any], bool]:
    last_assistant = max(
        (i for i, m in enumerate(messages) if isinstance(m, Mapping) and m.get("role") == "assistant"),
        default=-1,
    )
    out: list[Any] = []
    lost_in_last = False
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, list) or not any(_is_synthetic_block(b) for b in content):
            out.append(message)
            continue
        kept = [b for b in content if not _is_synthetic_block(b)]
        if i == last_assistant:
            lost_in_last = True
        out.append({**message, "content": kept})
    return out, lost_in_last


def _is_synthetic_block(block: Any) -> bool:
    return (
        isinstance(block, Mapping)
        and block.get("type") == "thinking"
        and is_synthetic_signature(block.get("signature"))
    )


def rewrite_model(event_or_message: dict[str, Any], model: str) -> dict[str, Any]:
    """A Message or message_start event reporting `model` (the name the client asked for); other
    events are returned as they are."""
    kind = event_or_message.get("type")
    if kind == "message":
        return {**event_or_message, "model": model}
    if kind == "message_start" and isinstance(event_or_message.get("message"), Mapping):
        return {**event_or_message, "message": {**event_or_message["message"], "model": model}}
    return event_or_message
