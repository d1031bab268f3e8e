"""Keep-alives as a unit: pings fill silent gaps, a failure still surfaces, closing early leaves nothing running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from router.gateway.keepalive import with_pings
from router.providers.base import EventStream, ProviderError

DELTA: Any = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}}


def slow(gaps: list[float], fail: bool = False) -> EventStream:
    async def events() -> AsyncIterator[Any]:
        for gap in gaps:
            await asyncio.sleep(gap)
            yield DELTA
        if fail:
            raise ProviderError(502, "t: the upstream went away")

    return EventStream(events())


async def test_a_silent_gap_gets_pings_and_a_busy_stream_none() -> None:
    got = [b is None async for b in with_pings(slow([0, 0.35, 0]), 0.1)]
    assert got[0] is False and got[-1] is False
    assert 2 <= got.count(True) <= 4  # about one ping per 0.1 s of the 0.35 s gap
    assert [b is None async for b in with_pings(slow([0] * 50), 0.1)] == [False] * 50


async def test_an_upstream_failure_after_pings_is_raised_to_the_relay() -> None:
    seen = []
    with pytest.raises(ProviderError):
        async for batch in with_pings(slow([0.25], fail=True), 0.1):
            seen.append(batch)
    assert None in seen and seen[-1] == [DELTA]


async def test_closing_early_stops_the_reader_so_the_stream_can_close() -> None:
    before = asyncio.all_tasks()  # the session's loop also runs other fixtures' tasks
    stream = slow([0, 5.0])
    pings = with_pings(stream, 0.05)
    assert await anext(pings) == [DELTA]
    assert await anext(pings) is None
    await pings.aclose()
    await asyncio.wait_for(stream.aclose(), 1.0)  # no "generator already running"
    assert [t for t in asyncio.all_tasks() - before if not t.done()] == []


async def test_interval_zero_means_no_pings() -> None:
    assert [b is None async for b in with_pings(slow([0, 0.2, 0]), 0)] == [False, False, False]
