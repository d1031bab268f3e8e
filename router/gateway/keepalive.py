"""Keep-alives for a running stream: `event: ping` whenever the upstream has been silent for a while.

Reasoning models can think for a minute without sending a byte, and some upstream paths (LiteLLM's stream
iterators, OpenAI-wire chunk streams) carry no pings of their own. Without traffic, Claude Code's idle
watchdog or a load balancer's idle timeout ends the connection. Anthropic's stream grammar allows a `ping`
event anywhere after `message_start`, and clients ignore it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Final

from router.providers.base import EventStream
from router.wire.sse import encode_event
from router.wire.stream_events import StreamEvent

__all__ = ["PING_FRAME", "with_pings"]

PING_FRAME: Final = encode_event({"type": "ping"})


async def with_pings(stream: EventStream, interval: float) -> AsyncIterator[list[StreamEvent] | None]:
    """The stream's batches, with None for each `interval` seconds without one (the caller sends a ping).

    The upstream read runs in its own task so that a ping never cancels it; it is cancelled and awaited
    before this generator ends, so the stream can be closed safely afterwards."""
    pending: asyncio.Task[list[StreamEvent]] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(stream.next_batch())
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield None
                continue
            task, pending = pending, None
            try:
                batch = task.result()
            except StopAsyncIteration:
                return
            yield batch
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception, StopAsyncIteration):
                await pending
