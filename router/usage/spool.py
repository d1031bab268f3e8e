"""A crash-durable spool for usage records: an append-only local file, written before the response
completes, replayed on the next start.

Why: the recorder batches rows in memory for speed, so a process killed with `kill -9` loses what it had
not written yet. Each record is first appended to this process's current segment file. When the recorder
has written (or set aside) every record of a closed segment, the file is deleted. On start, `replay()`
takes the segments no live process holds (an exclusive `flock` marks a segment in use), inserts the records
the database does not have yet (matched by request id within the segment's time range) and deletes them.

Two ways to make a record durable before its response completes (Settings.usage_spool_sync_interval):
- interval (the default, > 0): the record is written to the file (the kernel's page cache) at once, which
  a process crash cannot undo, and a background task fsyncs the file every `sync_interval` seconds. Cost:
  one small write per request. A machine crash (power loss, kernel panic) can lose the records of the
  last `sync_interval` seconds before it.
- 0: group commit: one background task writes every line waiting and fsyncs once for all of them, then
  releases the requests waiting on them. A machine crash then loses nothing acknowledged (as far as the disk
  honours fsync), at the price of an fsync (milliseconds on a network or virtual disk) in every response.
In both, a replica whose disk is lost loses the records it had not written to the database yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import msgspec

from router.store.usage_writes import EVENT_FIELDS, UsageEvent

log = logging.getLogger(__name__)

SEGMENT_EVENTS = 20_000
SUFFIX = ".spool"


_encoder = msgspec.json.Encoder()


def encode(event: UsageEvent) -> bytes:
    """One JSON line. msgspec on the request path (a few µs, where json.dumps takes ~30); json.dumps with
    `str` for anything msgspec cannot encode."""
    data = event.as_row()
    try:
        return _encoder.encode(data) + b"\n"
    except (TypeError, msgspec.EncodeError):
        data["created_at"] = event.created_at.isoformat()
        return json.dumps(data, ensure_ascii=True, default=str, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> UsageEvent:
    data: dict[str, Any] = json.loads(line)
    known = {name: data[name] for name in EVENT_FIELDS if name in data}
    known["created_at"] = datetime.fromisoformat(known["created_at"])
    return UsageEvent(**known)


@dataclass(eq=False)
class _Segment:
    path: Path
    handle: IO[bytes]
    appended: int = 0
    done: int = 0
    closed: bool = False


@dataclass
class _Pending:
    lines: list[bytes] = field(default_factory=list)
    futures: list[asyncio.Future[None]] = field(default_factory=list)


class UsageSpool:
    """One process's spool: `append()` returns a future that resolves once the line is on disk."""

    def __init__(
        self, directory: Path, *, segment_events: int = SEGMENT_EVENTS, sync_interval: float = 0.0
    ) -> None:
        self.directory = directory
        self._segment_events = segment_events
        self._sync_interval = sync_interval
        # Interval mode: segments written since their last fsync.
        self._unsynced: set[_Segment] = set()
        self._segment: _Segment | None = None
        self._of: dict[int, _Segment] = {}
        self._pending = _Pending()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.synced = 0
        self.syncs = 0

    # ------------------------------------------------------------------------------------------ append

    def append(self, event: UsageEvent) -> asyncio.Future[None] | None:
        """Interval mode: the record is in the file when this returns (None: nothing to wait for). Group
        commit: a future that resolves once the record is fsynced."""
        segment = self._current()
        segment.appended += 1
        self._of[id(event)] = segment
        if self._sync_interval > 0:
            # Into the page cache now (a process crash cannot lose it); on disk at the next interval's fsync.
            os.write(segment.handle.fileno(), encode(event))  # unbuffered: one syscall
            self.synced += 1
            if not self._unsynced:
                self._wake.set()
            self._unsynced.add(segment)
            return None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.lines.append(encode(event))
        self._pending.futures.append(future)
        self._wake.set()
        return future

    def handled(self, events: Sequence[UsageEvent]) -> None:
        """The recorder wrote (or set aside) these events: their segment may go once all of it is."""
        for event in events:
            segment = self._of.pop(id(event), None)
            if segment is None:
                continue
            segment.done += 1
            if segment.closed and segment.done >= segment.appended:
                self._remove(segment)

    def _current(self) -> _Segment:
        segment = self._segment
        if segment is None or segment.appended >= self._segment_events:
            if segment is not None:
                segment.closed = True
                if segment.done >= segment.appended:
                    self._remove(segment)
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{os.getpid()}-{time.time_ns()}{SUFFIX}"
            handle = (self.directory / name).open("ab")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            segment = self._segment = _Segment(self.directory / name, handle)
        return segment

    def _remove(self, segment: _Segment) -> None:
        with contextlib.suppress(OSError):
            segment.handle.close()
            segment.path.unlink()

    # ------------------------------------------------------------------------------------ group commit

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="usage-spool")

    async def stop(self) -> None:
        """Sync what is waiting, then close; segments with unwritten records stay for the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._sync_pending()
        await self._sync_written()
        segment = self._segment
        if segment is not None:
            segment.closed = True
            if segment.done >= segment.appended:
                self._remove(segment)
            else:
                segment.handle.close()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._sync_interval > 0:
                await asyncio.sleep(self._sync_interval)  # what arrives meanwhile shares this fsync
                await self._sync_written()
            else:
                await self._sync_pending()

    async def _sync_written(self) -> None:
        segments, self._unsynced = self._unsynced, set()
        for segment in segments:
            try:
                await asyncio.to_thread(os.fsync, segment.handle.fileno())
            except (OSError, ValueError) as exc:  # ValueError: the segment was written out and closed
                if not segment.handle.closed:
                    log.error(
                        "usage spool fsync failed (%s); records are safe from a process crash only", exc
                    )
            self.syncs += 1

    async def _sync_pending(self) -> None:
        pending, self._pending = self._pending, _Pending()
        if not pending.lines:
            return
        segment = self._segment
        try:
            if segment is not None:
                await asyncio.to_thread(_write_and_sync, segment.handle, b"".join(pending.lines))
        except OSError as exc:  # a full or broken disk: the records still go to the database as before
            log.error("usage spool write failed (%s); records are not crash-durable until it recovers", exc)
        self.syncs += 1
        self.synced += len(pending.lines)
        for future in pending.futures:
            if not future.done():
                future.set_result(None)


def _segments(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{SUFFIX}")) if directory.is_dir() else []


def _write_and_sync(handle: IO[bytes], data: bytes) -> None:
    handle.write(data)
    handle.flush()
    os.fsync(handle.fileno())


# ------------------------------------------------------------------------------------------------ replay

ExistingIds = Callable[[datetime, datetime, Sequence[str]], Awaitable[set[str]]]
WriteEvents = Callable[[Sequence[UsageEvent]], Awaitable[None]]


async def replay(directory: Path, existing: ExistingIds, write: WriteEvents) -> int:
    """Insert the records of segments no live process holds that the database lacks; delete the segments.
    Returns how many records were inserted. A segment that fails to replay stays for the next start."""
    inserted = 0
    for path in await asyncio.to_thread(_segments, directory):
        try:
            handle = path.open("rb")
        except OSError:
            continue
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live process's segment
            events = []
            for line in handle.read().split(b"\n"):
                if not line.strip():
                    continue
                try:
                    events.append(decode(line))
                except (ValueError, TypeError, KeyError):
                    continue  # a line cut by the crash: it was never acknowledged
            if events:
                since = min(e.created_at for e in events) - timedelta(seconds=1)
                until = max(e.created_at for e in events) + timedelta(seconds=1)
                have = await existing(since, until, [e.request_id for e in events])
                missing = [e for e in events if e.request_id not in have]
                for start in range(0, len(missing), 500):
                    await write(missing[start : start + 500])
                inserted += len(missing)
                log.warning(
                    "usage spool %s replayed: %d records, %d were not in the database",
                    path.name,
                    len(events),
                    len(missing),
                )
            path.unlink()
    return inserted
