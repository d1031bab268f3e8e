"""Keep-alives for a running stream: `event: ping` whenever the upstream has been silent for a while.

Reasoning models can think for a minute without sending a byte, and some upstream paths (LiteLLM's stream
iterators, OpenAI-wire chunk streams) carry no pings of their own. Without traffic, Claude Code's idle
watchdog or a load balancer's idle timeout ends the connection. Anthropic's stream grammar allows a `ping`
event anywhere after `message_start`, and clients ignore it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any, Final

from router.providers.base import EventStream
from router.wire.sse import encode_event
from router.wire.stream_events import StreamEvent

__all__ = ["PING_FRAME", "with_pings"]

PING_FRAME: Final = encode_event({"type": "ping"})


_END: Final = object()
_PING: Final = object()


async def with_pings(stream: EventStream, interval: float) -> AsyncGenerator[list[StreamEvent] | None, None]:
    """The stream's batches, with None for each `interval` seconds without one (the caller sends a ping).

    One reader task drains the upstream into a small queue, so a ping never interrupts a read; one timer,
    re-armed from the time of the last batch rather than per batch, drops a ping into the queue when the
    upstream has been silent. The reader is cancelled and awaited before this generator ends, so the
    stream can be closed safely afterwards. With `interval` 0 there are no pings and no reader task."""
    if interval <= 0:
        while True:
            try:
                yield await stream.next_batch()
            except StopAsyncIteration:
                return
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=8)
    last = loop.time()
    timer: asyncio.TimerHandle | None = None

    def silence() -> None:
        nonlocal timer, last
        now = loop.time()
        if now - last >= interval:
            if queue.empty():
                queue.put_nowait(_PING)
            last = now
        timer = loop.call_at(last + interval, silence)

    async def read() -> None:
        nonlocal last
        try:
            while True:
                try:
                    batch = await stream.next_batch()
                except StopAsyncIteration:
                    await queue.put(_END)
                    return
                last = loop.time()
                await queue.put(batch)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the consumer, which raises it where the relay expects
            await queue.put(exc)

    reader = asyncio.ensure_future(read())
    timer = loop.call_at(last + interval, silence)
    try:
        while True:
            item = await queue.get()
            if item is _PING:
                yield None
            elif item is _END:
                return
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        if timer is not None:
            timer.cancel()
        if not reader.done():
            reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
