"""Token numbers: a cheap estimate for the hot path, LiteLLM's counter for count_tokens."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import msgspec

from router.providers.base import UpstreamCall, estimate_tokens
from router.providers.runtime import litellm
from router.translate.quirks import quirks_for
from router.translate.to_openai import to_openai_request

__all__ = ["count_with_litellm"]

log = logging.getLogger("router.providers")

# Bodies above this are counted on a worker thread so a long prompt does not stall the event loop.
_THREAD_THRESHOLD: Final = 32 * 1024


def _count(call: UpstreamCall) -> int:
    target = call.target
    body = to_openai_request(call.request, model=target.base_model, quirks=quirks_for(target.provider.kind))
    try:
        return _PARTS.count(target.base_model, body["messages"], body.get("tools"))
    except Exception:  # LiteLLM's counter trips on shapes it does not expect (`items: null`): estimate
        log.warning("token counter failed for %s; answering with an estimate", target.ref)
        return estimate_tokens(call.body)


class _PartCounts:
    """LiteLLM's `token_counter`, counted a part at a time and remembered per part.

    Its count of a conversation is a sum: each message on its own, plus one term for the tools (and
    whether there is a system message). A session resends the same system prompt, tools and earlier turns
    with every request, so only the new turns are tokenized; the total is the same number to the token
    (tests/providers/test_token_parts.py holds it to LiteLLM's own count). Thread-safe: counts run on
    worker threads."""

    def __init__(self, capacity: int = 8192) -> None:
        self._capacity = capacity
        self._known: OrderedDict[bytes, int] = OrderedDict()
        self._lock = threading.Lock()
        self.tokenized = 0  # parts counted by the tokenizer (not remembered): for tests and profiling

    def count(self, model: str, messages: Sequence[Mapping[str, Any]], tools: Sequence[Any] | None) -> int:
        counter = litellm().token_counter

        def one_message(message: Mapping[str, Any]) -> Callable[[], int]:
            return lambda: int(
                counter(
                    model=model,
                    messages=[message],
                    count_response_tokens=True,
                    use_default_image_token_count=True,
                )
            )

        total = sum(self._part(model, b"message", message, one_message(message)) for message in messages)
        has_system = any(message.get("role") == "system" for message in messages)
        # The conversation-wide term: reply priming, the tools' definitions, -4 beside a system message.
        probe = [{"role": "system" if has_system else "user", "content": ""}]

        def conversation() -> int:
            with_tools = counter(model=model, messages=probe, tools=list(tools) if tools else None)
            return int(with_tools - counter(model=model, messages=probe, count_response_tokens=True))

        return total + self._part(model, b"system" if has_system else b"no-system", tools or [], conversation)

    def _part(self, model: str, kind: bytes, part: object, tokenize: Callable[[], int]) -> int:
        digest = hashlib.blake2b(msgspec.json.encode(part), digest_size=16, person=kind)
        digest.update(model.encode())
        key = digest.digest()
        with self._lock:
            known = self._known.get(key)
            if known is not None:
                self._known.move_to_end(key)
                return known
        counted = tokenize()
        with self._lock:
            self.tokenized += 1
            self._known[key] = counted
            if len(self._known) > self._capacity:
                self._known.popitem(last=False)
        return counted


_PARTS: Final = _PartCounts()


# Background counts (message_start's) get a thread of their own: queued behind the default executor's
# work they would delay the usage spool's fsyncs, which every stream's end waits for.
_background: ThreadPoolExecutor | None = None


async def count_with_litellm(call: UpstreamCall, *, background: bool = False) -> int:
    """`background`: always on a worker thread. The first count in a process loads the tokenizer (a second
    or more of CPU), which must not stall the event loop while a stream waits for its first chunk."""
    global _background
    if background:
        if _background is None:
            _background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="token-count")
        return await asyncio.get_running_loop().run_in_executor(_background, _count, call)
    if len(call.body) > _THREAD_THRESHOLD:
        return await asyncio.to_thread(_count, call)
    return _count(call)
