"""Thinking: Anthropic's thinking config -> OpenAI `reasoning_effort`, and synthetic signatures.

Non-Anthropic targets return reasoning text without Anthropic's signature, yet Anthropic clients
expect one on every thinking block. We give such blocks a stable, recognisable synthetic signature
(fixed prefix + a hash of the text) so the stream and the non-streamed response agree, and so the
native Anthropic path can drop those blocks before they reach a real Anthropic model.
"""

from __future__ import annotations

import hashlib
from typing import Final

from router.wire.requests import MessagesRequest, ThinkingAdaptive, ThinkingEnabled

__all__ = [
    "EFFORT_FOR_OUTPUT_CONFIG",
    "SYNTHETIC_SIGNATURE_PREFIX",
    "is_synthetic_signature",
    "reasoning_effort_for",
    "synthetic_signature",
]

SYNTHETIC_SIGNATURE_PREFIX: Final = "rtrsig1_"

# budget_tokens upper bounds (exclusive) -> effort; anything at or above the last bound is "high".
_EFFORT_FOR_BUDGET: Final[tuple[tuple[int, str], ...]] = ((4096, "low"), (16384, "medium"))
EFFORT_FOR_OUTPUT_CONFIG: Final[dict[str, str]] = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "max": "high",
}
# Anthropic's documented default effort when adaptive thinking is on and none is given.
_ADAPTIVE_DEFAULT: Final = "high"


def reasoning_effort_for(req: MessagesRequest) -> str | None:
    """The OpenAI `reasoning_effort` implied by the request's thinking config, or None for none."""
    thinking = req.thinking
    if isinstance(thinking, ThinkingEnabled):
        for bound, level in _EFFORT_FOR_BUDGET:
            if thinking.budget_tokens < bound:
                return level
        return "high"
    if isinstance(thinking, ThinkingAdaptive):
        requested = req.effort
        return EFFORT_FOR_OUTPUT_CONFIG.get(requested, _ADAPTIVE_DEFAULT) if requested else _ADAPTIVE_DEFAULT
    return None


def synthetic_signature(thinking: str) -> str:
    return SYNTHETIC_SIGNATURE_PREFIX + hashlib.sha256(thinking.encode()).hexdigest()[:40]


def is_synthetic_signature(signature: object) -> bool:
    return isinstance(signature, str) and signature.startswith(SYNTHETIC_SIGNATURE_PREFIX)
