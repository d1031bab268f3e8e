"""What every wire format shares: the call's facts, token numbers, fragments, ids, the format interface."""

from __future__ import annotations

import json
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from tests.fakes.upstream_script import Reply


@dataclass(frozen=True)
class Call:
    """Facts about the incoming request that shape the answer."""

    kind: str
    model: str
    body_size: int
    include_usage: bool = True  # OpenAI streams: stream_options.include_usage


@dataclass(frozen=True)
class Usage:
    input: int
    output: int
    cached: int
    reasoning: int


def estimate_tokens(chars: int) -> int:
    # Roughly four characters per token, like the usual rule of thumb; deterministic so tests can predict it.
    return max(1, chars // 4)


def usage_for(reply: Reply, call: Call) -> Usage:
    reasoning_chars = len(reply.reasoning or "")
    args_chars = sum(len(tc.name) + len(json.dumps(tc.arguments)) for tc in reply.tool_calls)
    output = reply.output_tokens
    if output is None:
        output = estimate_tokens(len(reply.text) + reasoning_chars + args_chars)
    reasoning = min(output, estimate_tokens(reasoning_chars)) if reply.reasoning else 0
    inp = reply.input_tokens if reply.input_tokens is not None else estimate_tokens(call.body_size)
    return Usage(input=inp, output=output, cached=min(reply.cached_tokens, inp), reasoning=reasoning)


def fragments(text: str, size: int) -> list[str]:
    """``text`` in pieces of ``size`` characters (nothing for an empty string)."""
    step = max(1, size)
    return [text[i : i + step] for i in range(0, len(text), step)]


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class WireFormat(ABC):
    """How one provider spells answers, streams and errors."""

    kind: str

    @abstractmethod
    def completion(self, reply: Reply, call: Call) -> dict[str, Any]:
        """The non-stream response body."""

    @abstractmethod
    def stream(self, reply: Reply, call: Call) -> list[bytes]:
        """The stream, one complete SSE frame per element (a BreakStream counts these)."""

    @abstractmethod
    def error(self, status: int, message: str) -> dict[str, Any]:
        """The provider's error body for an HTTP error."""

    @abstractmethod
    def error_in_200(self, message: str) -> dict[str, Any]:
        """The error payload some gateways return with status 200."""

    @abstractmethod
    def stream_error(self, message: str) -> bytes:
        """An error arriving as an SSE frame inside a 200 stream."""
