"""The stream state machine: OpenAI-shaped chunks in, Anthropic stream events out.

Anthropic streams content blocks one at a time with increasing indexes, so the translator keeps at
most one block open: reasoning -> a thinking block, content -> a text block, each tool call -> a
tool_use block. A piece of a different kind closes the open block and opens the next. Tool-call
arguments are passed through as `input_json_delta` pieces exactly as they arrive, so the client's
concatenation equals the upstream's arguments string.

Stop sequences: these targets are not sent the request's stop sequences (they could not say which one
matched); the translator finds them in the text itself (`StopScanner`), holding back a tail that might
begin one, cuts the text where the first completes, and then `stopped` tells the caller to stop reading.
An upstream that names the sequence it matched (vLLM `stop_reason`, SGLang `matched_stop`) is believed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from router.translate.from_openai import text_of
from router.translate.openai_common import (
    anthropic_tool_id,
    matched_stop_sequence,
    stop_reason_for,
    usage_from_openai,
)
from router.translate.stop_sequences import StopScanner
from router.translate.thinking import synthetic_signature
from router.wire.responses import MessageResponse, ResponseContentBlock, Usage
from router.wire.stream_events import StreamEvent

__all__ = ["OpenAIStreamTranslator"]

Event = StreamEvent


class _ToolCall:
    __slots__ = ("block_index", "name", "pending", "upstream_id")

    def __init__(self, upstream_id: str | None, name: str | None) -> None:
        self.upstream_id = upstream_id
        self.name = name
        self.block_index: int | None = None  # set once its content_block_start is emitted
        self.pending: list[str] = []  # argument pieces that arrived before the name


class OpenAIStreamTranslator:
    """Feed it OpenAI chat-completion chunks (dicts); it returns the Anthropic events to send.

    Call `start()` first (or let the first `feed` do it), `feed(chunk)` per upstream chunk, then
    `finish()` at the upstream's end, or `error(type, message)` if the upstream fails mid-stream.
    """

    def __init__(
        self,
        *,
        model: str,
        message_id: str,
        input_tokens: int = 0,
        stop_sequences: Sequence[str] | None = None,
        estimate_output_tokens: Callable[[str], int] | None = None,
    ) -> None:
        self.model = model
        self.message_id = message_id
        self._input_tokens = input_tokens
        self._stop_sequences = stop_sequences
        self._scanner = StopScanner(stop_sequences)
        self._estimate = estimate_output_tokens
        self._started = False
        self._ended = False
        self._next_index = 0
        self._open: str | None = None  # "text" | "thinking" | "tool_use"
        self._open_tool: _ToolCall | None = None
        self._thinking_parts: list[str] = []
        self._thinking_signature: str | None = None
        self._tools: dict[Any, _ToolCall] = {}
        self._tool_blocks = 0
        self._finish_reason: str | None = None
        self._matched_stop: str | None = None
        self._upstream_usage: Mapping[str, Any] | None = None
        self._delivered: list[str] = []
        self.delivered_text_chars = 0
        self.dropped_fragments = 0
        self.stop_reason: str | None = None
        # True once a stop sequence was found in the text: nothing more is taken, the caller stops reading.
        self.stopped = False

    # ---- public -------------------------------------------------------------------------------

    def start(self) -> list[Event]:
        if self._started:
            return []
        self._started = True
        message: MessageResponse = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self._input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 0,
            },
        }
        return [{"type": "message_start", "message": message}, {"type": "ping"}]

    def feed(self, chunk: Mapping[str, Any]) -> list[Event]:
        if self._ended or self.stopped:
            return []
        events = self.start() if not self._started else []
        usage = chunk.get("usage")
        if isinstance(usage, Mapping) and usage:
            self._upstream_usage = usage
        choices = chunk.get("choices")
        if not choices or not isinstance(choices, list):
            return events
        choice = choices[0]
        if not isinstance(choice, Mapping):
            return events
        delta = choice.get("delta")
        if isinstance(delta, Mapping):
            self._reasoning(delta, events)
            content = delta.get("content")
            if content:
                self._text(content if isinstance(content, str) else text_of(content), events)
                if self.stopped:
                    return events
            tool_calls = delta.get("tool_calls")
            if isinstance(tool_calls, list):
                for fragment in tool_calls:
                    if isinstance(fragment, Mapping):
                        self._tool_fragment(fragment, events)
            legacy = delta.get("function_call")
            if isinstance(legacy, Mapping):
                self._tool_fragment({"index": "function_call", "function": legacy}, events)
        finish_reason = choice.get("finish_reason")
        if finish_reason:
            self._finish_reason = str(finish_reason)
            self._matched_stop = matched_stop_sequence(choice, self._stop_sequences) or self._matched_stop
        return events

    def finish(self) -> list[Event]:
        if self._ended:
            return []
        events = self.start() if not self._started else []
        self._flush_text(events)
        for call in self._tools.values():
            if call.block_index is None and (call.pending or call.upstream_id):
                # The name never arrived: still deliver the call rather than lose it.
                call.name = call.name or "unknown_tool"
                self._start_tool(call, events)
        self._close(events)
        if self._matched_stop is not None:
            self.stop_reason, stop_sequence = "stop_sequence", self._matched_stop
        else:
            self.stop_reason = stop_reason_for(self._finish_reason, has_tool_calls=self._tool_blocks > 0)
            stop_sequence = None
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason, "stop_sequence": stop_sequence},
                "usage": self.usage,
            }
        )
        events.append({"type": "message_stop"})
        self._ended = True
        return events

    def error(self, error_type: str, message: str) -> list[Event]:
        if self._ended:
            return []
        events = self.start() if not self._started else []
        self._ended = True
        events.append({"type": "error", "error": {"type": error_type, "message": message}})
        return events

    @property
    def usage_estimated(self) -> bool:
        return self._upstream_usage is None

    @property
    def usage(self) -> Usage:
        """Final usage: the upstream's when it reported any, else an estimate."""
        if self._upstream_usage is not None:
            usage = usage_from_openai(self._upstream_usage)
            if "prompt_tokens" not in self._upstream_usage:
                usage["input_tokens"] = self._input_tokens
            return usage
        text = "".join(self._delivered)
        output = self._estimate(text) if self._estimate is not None else (len(text) + 3) // 4
        return {
            "input_tokens": self._input_tokens,
            "output_tokens": output,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }

    @property
    def finish_reason(self) -> str | None:
        """The upstream's raw finish_reason, if it sent one."""
        return self._finish_reason

    # ---- one method per upstream piece kind ---------------------------------------------------

    def _reasoning(self, delta: Mapping[str, Any], events: list[Event]) -> None:
        # LiteLLM sends `thinking_blocks` (with signatures) alongside the same text in
        # `reasoning_content`; the blocks win so the text is not delivered twice.
        blocks = delta.get("thinking_blocks")
        if isinstance(blocks, list) and blocks:
            for block in blocks:
                if not isinstance(block, Mapping):
                    continue
                if block.get("type") == "redacted_thinking":
                    self._redacted(str(block.get("data") or ""), events)
                else:
                    thinking = block.get("thinking")
                    signature = block.get("signature")
                    self._thinking(
                        thinking if isinstance(thinking, str) else "",
                        signature if isinstance(signature, str) else None,
                        events,
                    )
            return
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            self._thinking(reasoning, None, events)

    def _thinking(self, text: str, signature: str | None, events: list[Event]) -> None:
        if not text and not signature:
            return
        if self._open != "thinking":
            self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""}, events)
        if text:
            self._thinking_parts.append(text)
            self._deliver(text)
            events.append(
                {
                    "type": "content_block_delta",
                    "index": self._next_index - 1,
                    "delta": {"type": "thinking_delta", "thinking": text},
                }
            )
        if signature:
            self._thinking_signature = signature

    def _redacted(self, data: str, events: list[Event]) -> None:
        if not data:
            return
        self._open_block("redacted_thinking", {"type": "redacted_thinking", "data": data}, events)
        self._close(events)

    def _text(self, text: str, events: list[Event]) -> None:
        if self._scanner.active:
            text, matched = self._scanner.feed(text)
            if matched is not None:
                self._matched_stop = matched
                self.stopped = True
        self._emit_text(text, events)

    def _flush_text(self, events: list[Event]) -> None:
        """Deliver text held back in case it began a stop sequence: its block ends here."""
        if self._scanner.active:
            self._emit_text(self._scanner.flush(), events)

    def _emit_text(self, text: str, events: list[Event]) -> None:
        if not text:
            return
        if self._open != "text":
            self._open_block("text", {"type": "text", "text": ""}, events)
        self._deliver(text)
        events.append(
            {
                "type": "content_block_delta",
                "index": self._next_index - 1,
                "delta": {"type": "text_delta", "text": text},
            }
        )

    def _tool_fragment(self, fragment: Mapping[str, Any], events: list[Event]) -> None:
        function = fragment.get("function")
        function = function if isinstance(function, Mapping) else {}
        upstream_id = fragment.get("id") or None
        name = function.get("name") or None
        arguments = function.get("arguments")
        key = fragment.get("index")
        if key is None:
            # No index: an id starts a new call, otherwise the piece continues the open one.
            key = upstream_id if upstream_id else (self._open_tool_key() if self._open_tool else 0)

        call = self._tools.get(key)
        if call is not None and upstream_id and call.upstream_id and upstream_id != call.upstream_id:
            call = None  # the same index reused for a different call (some upstreams number all 0)
        if call is None:
            call = _ToolCall(upstream_id, name)
            self._tools[key] = call
        else:
            call.upstream_id = call.upstream_id or upstream_id
            call.name = call.name or name

        if call.block_index is None and call.name:
            self._start_tool(call, events)
        if not isinstance(arguments, str) or not arguments:
            return
        if call.block_index is None:
            call.pending.append(arguments)
        elif call is self._open_tool:
            self._emit_arguments(arguments, events)
        else:
            # A piece for a call whose block is already closed: Anthropic blocks cannot be reopened.
            self.dropped_fragments += 1

    def _start_tool(self, call: _ToolCall, events: list[Event]) -> None:
        block: ResponseContentBlock = {
            "type": "tool_use",
            "id": anthropic_tool_id(call.upstream_id),
            # _start_tool runs once the name is known (or set to "unknown_tool" at the end).
            "name": call.name or "unknown_tool",
            "input": {},
        }
        self._open_block("tool_use", block, events)
        call.block_index = self._next_index - 1
        self._open_tool = call
        self._tool_blocks += 1
        if call.pending:
            pending, call.pending = call.pending, []
            for piece in pending:
                self._emit_arguments(piece, events)

    def _emit_arguments(self, piece: str, events: list[Event]) -> None:
        self._deliver(piece)
        events.append(
            {
                "type": "content_block_delta",
                "index": self._next_index - 1,
                "delta": {"type": "input_json_delta", "partial_json": piece},
            }
        )

    # ---- block bookkeeping --------------------------------------------------------------------

    def _open_block(self, kind: str, content_block: ResponseContentBlock, events: list[Event]) -> None:
        if kind != "text":
            self._flush_text(events)
        self._close(events)
        events.append(
            {"type": "content_block_start", "index": self._next_index, "content_block": content_block}
        )
        self._next_index += 1
        self._open = kind

    def _close(self, events: list[Event]) -> None:
        if self._open is None:
            return
        index = self._next_index - 1
        if self._open == "thinking":
            signature = self._thinking_signature or synthetic_signature("".join(self._thinking_parts))
            events.append(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "signature_delta", "signature": signature},
                }
            )
            self._thinking_parts = []
            self._thinking_signature = None
        self._open_tool = None
        events.append({"type": "content_block_stop", "index": index})
        self._open = None

    def _open_tool_key(self) -> Any:
        for key, call in self._tools.items():
            if call is self._open_tool:
                return key
        return 0

    def _deliver(self, text: str) -> None:
        self._delivered.append(text)
        self.delivered_text_chars += len(text)
