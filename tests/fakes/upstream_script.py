"""Provider-neutral scenario steps for the fake upstream, the per-model script queues, and recorded requests.

Tests describe *what* the upstream does (reply with text and tool calls, fail with 429, stall, cut the
stream); the wire-format modules decide *how* that looks for OpenAI, Azure, Gemini or Anthropic.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

UpstreamKind: TypeAlias = Literal["openai", "azure", "gemini", "anthropic"]


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str | None = None  # None: the fake makes one up in the provider's style (call_…, toolu_…)


@dataclass
class Reply:
    """A successful answer.

    Token numbers follow OpenAI's meaning everywhere: ``input_tokens`` is the whole prompt *including*
    ``cached_tokens`` (Anthropic's rendering therefore reports ``input_tokens - cached_tokens`` as uncached
    input and ``cached_tokens`` as ``cache_read_input_tokens``); ``output_tokens`` includes reasoning.
    """

    text: str = ""
    reasoning: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish: str | None = None  # None -> "tool_calls" if tool_calls else "stop"; or "length", "content_filter"
    input_tokens: int | None = None  # None -> estimate from the request body size
    output_tokens: int | None = None  # None -> estimate from the reply's size
    cached_tokens: int = 0
    chunk_size: int = 7  # characters per streamed text / reasoning / argument fragment
    stream_usage: bool = True  # False: the stream carries no usage at all
    chunk_delay: float = (
        0.0  # seconds between streamed chunks: gives disconnect tests a stream to walk away from
    )
    # Anthropic only: top-level fields the Message carries besides the usual ones (auto mode's
    # `safeguard_results`, say); a stream carries them on its message_delta.
    extra: dict[str, Any] = field(default_factory=dict)

    def finish_reason(self) -> str:
        if self.finish is not None:
            return self.finish
        return "tool_calls" if self.tool_calls else "stop"


@dataclass
class Fail:
    """An HTTP error in the called provider's error shape (or ``raw_body`` verbatim)."""

    status: int
    message: str = "scripted failure"
    headers: dict[str, str] = field(default_factory=dict)
    raw_body: str | None = None


@dataclass
class BreakStream:
    """Send ``after_chunks`` stream events of ``reply`` (the default reply when None), then break.

    ``reset``: the TCP connection is reset (RST). ``eof``: the HTTP response ends cleanly but the
    stream's own end ([DONE], message_stop, the finish chunk) never comes. On a non-stream request the
    JSON body is cut in half instead (Content-Length announces the whole body).
    """

    after_chunks: int
    mode: Literal["reset", "eof"] = "reset"
    reply: Reply | None = None


@dataclass
class NotJson:
    status: int = 200
    body: str = "<html><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass
class ErrorIn200:
    """HTTP 200 whose payload is an error: a JSON error body, or an error event inside the stream."""

    message: str


@dataclass
class Delay:
    """Wait ``seconds`` before the first byte, then do ``then``."""

    seconds: float
    then: Reply | Fail | BreakStream | NotJson | ErrorIn200


Step: TypeAlias = Reply | Fail | Delay | BreakStream | NotJson | ErrorIn200


@dataclass(frozen=True)
class RecordedRequest:
    kind: str  # UpstreamKind, or "unknown" for a path the fake does not serve
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    json: Any  # None when the body was not JSON
    model: str
    stream: bool
    body: bytes = b""


class ScriptBook:
    """FIFO queues of steps per model (None = any model) plus the default reply; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str | None, deque[Step]] = {}
        self._default: Reply | None = None

    def add(self, steps: tuple[Step, ...], model: str | None) -> None:
        with self._lock:
            self._queues.setdefault(model, deque()).extend(steps)

    def set_default(self, reply: Reply | None) -> None:
        with self._lock:
            self._default = reply

    def next_step(self, model: str) -> Step | None:
        """The next scripted step for ``model``: its own queue first, then the any-model queue."""
        with self._lock:
            for key in (model, None):
                queue = self._queues.get(key)
                if queue:
                    return queue.popleft()
            return None

    def default_reply(self, kind: str, model: str) -> Reply:
        with self._lock:
            if self._default is not None:
                return self._default
        return Reply(text=f"Hello from {kind}:{model}.")

    def pending(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._queues.values())

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()
            self._default = None
