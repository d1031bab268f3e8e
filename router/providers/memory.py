"""Giving memory back to the OS after an upstream answer was cut at a size cap.

A capped answer leaves up to a cap's worth of freed buffers per request (32 MiB by default). CPython hands
them back to glibc's malloc, which keeps freed heap memory (and, after a large mmapped block is freed, raises
its mmap threshold so that the next large buffers come from the heap too) rather than returning it: four
300 MB answers left a process 250 MB larger for good. So, on glibc only:
- `fix_mmap_threshold` (at start-up) pins the threshold at its initial 128 KiB: buffers that large are
  always mmapped and so unmapped the moment they are freed;
- `release_soon` (when a cap trips) runs `malloc_trim(0)` once the failing requests have let go of their
  buffers (a second after the last cap tripped), returning the freed heap pages in between. At most one is
  pending; it costs milliseconds.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging

__all__ = ["fix_mmap_threshold", "release_soon"]

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024
# Seconds after a cap trips: the request's error has been answered and its buffers freed by then.
TRIM_DELAY = 1.0


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    # glibc only: musl and others have no malloc_trim (and return memory on their own terms).
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_LIBC = _libc()
_pending: asyncio.TimerHandle | None = None
_pending_loop: asyncio.AbstractEventLoop | None = None
_due = 0.0


def fix_mmap_threshold() -> None:
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def _trim(loop: asyncio.AbstractEventLoop) -> None:
    global _pending
    if loop.time() < _due:  # another cap tripped since: wait for its request to let go too
        _pending = loop.call_at(_due, _trim, loop)
        return
    _pending = None
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def release_soon() -> None:
    """Trim the heap a second after the last cap trips (once for a burst of them). Needs a running loop."""
    global _pending, _pending_loop, _due
    if _LIBC is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    _due = loop.time() + TRIM_DELAY
    # One loop per process in service; a pending trim on another (a stopped test server's) does not count.
    if _pending is None or _pending_loop is not loop:
        _pending, _pending_loop = loop.call_at(_due, _trim, loop), loop
