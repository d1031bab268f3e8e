"""After answers cut at a size cap, the heap is trimmed once, a moment after the last of them (so that their
buffers are freed by then), whatever the number of caps tripping meanwhile."""

from __future__ import annotations

import asyncio

import pytest

from router.providers import memory
from router.providers.transport import too_large


class FakeLibc:
    def __init__(self) -> None:
        self.trims = 0
        self.options: list[tuple[int, int]] = []

    def malloc_trim(self, pad: int) -> int:
        self.trims += 1
        return 1

    def mallopt(self, option: int, value: int) -> int:
        self.options.append((option, value))
        return 1


@pytest.fixture
def libc(monkeypatch: pytest.MonkeyPatch) -> FakeLibc:
    fake = FakeLibc()
    monkeypatch.setattr(memory, "_LIBC", fake)
    monkeypatch.setattr(memory, "TRIM_DELAY", 0.1)
    monkeypatch.setattr(memory, "_pending", None)
    return fake


async def test_a_burst_of_capped_answers_trims_the_heap_once_after_the_last(libc: FakeLibc) -> None:
    for _ in range(5):
        too_large("answer", 1024, "t")  # each capped answer asks for a trim
        await asyncio.sleep(0.05)
    assert libc.trims == 0  # not while caps keep tripping: their buffers may still be held
    await asyncio.sleep(0.25)
    assert libc.trims == 1
    too_large("stream line", 1024, "t")
    await asyncio.sleep(0.25)
    assert libc.trims == 2


def test_the_mmap_threshold_is_pinned_so_large_buffers_go_back_when_freed(libc: FakeLibc) -> None:
    memory.fix_mmap_threshold()
    assert libc.options == [(-3, 128 * 1024)]  # M_MMAP_THRESHOLD
