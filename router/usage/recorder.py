"""Usage leaves the request path here: a bounded in-memory queue, drained by one background writer.

`record()` never waits and never raises: when the queue is full the event is dropped, counted and warned
about (at most every few seconds, with the running count). The writer takes up to `batch_size` events, or
whatever arrived within `flush_interval` of the first one (when more are queued, a backlog, up to
`backlog_batch_size`), and writes them in one transaction (one INSERT for the rows, one upsert per rollup
table, one UPDATE for the keys' last-used times). When the database is away it keeps the batch and
retries with exponential backoff; meanwhile new events wait in the queue up to its bound. A failed write
may still have committed (the connection cut after COMMIT reached the server), so every write after a
failure leaves out the events already stored, by request id: a record is never written twice.

Nothing a record holds can halt the writer: `record()` bounds every value to its column first, and when a
write still fails while the database answers a probe, the batch is split in halves down to the rows the
database refuses; each goes to the dead-letter table (`router usage-dead-letters` lists and replays them)
and the rows around it are written. Only a database that does not answer makes the writer wait and retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from router.observability import metrics
from router.store.usage_writes import (
    UsageEvent,
    is_connection_write_error,
    is_permanent_write_error,
    write_usage_batch,
    write_usage_batch_again,
)

if TYPE_CHECKING:
    from router.settings import Settings
    from router.store.db import Database
    from router.usage.spool import UsageSpool

log = logging.getLogger(__name__)

WriteBatch = Callable[[Sequence[UsageEvent]], Awaitable[None]]
WriteDeadLetters = Callable[[Sequence[tuple[UsageEvent, str]]], Awaitable[None]]
IsPermanent = Callable[[BaseException], bool]
Probe = Callable[[], Awaitable[bool]]

# Seconds between two "queue full" warnings; the count in each says how many were dropped so far.
DROP_WARNING_INTERVAL = 5.0
BACKOFF_START = 0.1
BACKOFF_CAP = 5.0
# A write that takes longer than this is treated as failed (a hung connection must not stall the writer).
WRITE_TIMEOUT = 30.0
# A backlog is written in batches of up to this many times batch_size (see UsageRecorder.__init__).
BACKLOG_BATCHES = 10
# How long the "is the database there?" probe after a failed write may take.
PROBE_TIMEOUT = 5.0


class NoDeadLetterStore(RuntimeError):
    """A recorder built without a database (tests, tools) has nowhere to set refused records aside."""


class UsageRecorder:
    """The bounded queue and its batch writer. Counters (`written`, `dropped`, `dead_lettered`, `pending`,
    `failures`) feed /metrics."""

    def __init__(
        self,
        database: Database | None,
        *,
        queue_size: int,
        batch_size: int,
        flush_interval: float,
        backlog_batch_size: int | None = None,
        write_batch: WriteBatch | None = None,
        write_again: WriteBatch | None = None,
        is_permanent: IsPermanent | None = None,
        is_connection_error: IsPermanent | None = None,
        dead_letter: WriteDeadLetters | None = None,
        probe: Probe | None = None,
        spool: UsageSpool | None = None,
    ) -> None:
        if database is None and write_batch is None:
            raise ValueError("UsageRecorder needs a database or a write_batch function")
        self._database = database
        self._write_batch = write_batch or self._write_to_database
        # After a failed attempt, which may have committed and lost only its acknowledgement: leaves out
        # the events already stored, so a retry never writes a record twice.
        self._write_again = write_again or (
            self._write_again_to_database if database is not None else self._write_batch
        )
        self._is_permanent = is_permanent or _default_is_permanent
        self._is_connection_error = is_connection_error or is_connection_write_error
        self._dead_letter = dead_letter or self._dead_letter_to_database
        self._probe = probe or self._probe_database
        # Crash durability (usage/spool.py): every record is on local disk before its response completes.
        self.spool = spool
        self._queue: asyncio.Queue[UsageEvent] = asyncio.Queue(maxsize=queue_size)
        self._batch_size = max(1, batch_size)
        # With more queued than one batch (the writer fell behind), one write takes up to this many: the
        # rollups cost one upsert per group in a batch, whatever its rows, and 500 engineers' keys put ~500
        # groups in any 500 rows (bench/usage_write.py --groups 500).
        self._backlog_batch_size = max(
            self._batch_size,
            backlog_batch_size if backlog_batch_size is not None else BACKLOG_BATCHES * self._batch_size,
        )
        self._flush_interval = flush_interval
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._last_drop_warning = 0.0
        self.written = 0
        self.dropped = 0
        self.failures = 0
        # Records the database refused even bounded, kept in usage_dead_letters.
        self.dead_lettered = 0
        # Events taken off the queue and not yet committed (the batch being written or retried).
        self._in_flight = 0
        # The batch the writer is still collecting (up to flush_interval after its first event).
        self._filling: list[UsageEvent] = []

    @classmethod
    def from_settings(cls, database: Database, settings: Settings) -> UsageRecorder:
        """Sized by Settings.usage_queue_size / usage_batch_size / usage_flush_interval."""
        return cls(
            database,
            queue_size=settings.usage_queue_size,
            batch_size=settings.usage_batch_size,
            flush_interval=settings.usage_flush_interval,
        )

    @property
    def pending(self) -> int:
        """Events recorded but not yet written (queued plus the batch in flight)."""
        return self._queue.qsize() + len(self._filling) + self._in_flight

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def record(self, event: UsageEvent, tenant_name: str | None = None) -> asyncio.Future[None] | None:
        """Hand one event off the request path: never blocks, never raises. The event is bounded to its
        columns first, so no client or upstream value can make the database refuse it."""
        event.bounded()
        try:
            metrics.observe(event, tenant_name if tenant_name is not None else _tenant_label(event))
        except Exception:  # metrics are best effort; the record itself must still go through
            log.exception("usage metrics observe failed")
        durable: asyncio.Future[None] | None = None
        if self.spool is not None:
            try:
                durable = self.spool.append(event)
            except OSError as exc:  # the spool's disk: the record still goes to the database
                log.error("usage spool append failed (%s); this record is not crash-durable", exc)
        self._enqueue(event)
        return durable

    def _enqueue(self, event: UsageEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            now = time.monotonic()
            if now - self._last_drop_warning >= DROP_WARNING_INTERVAL:
                self._last_drop_warning = now
                log.warning(
                    "usage queue full (%d events): dropping usage records, %d dropped so far",
                    self._queue.maxsize,
                    self.dropped,
                )

    async def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="usage-recorder")
        if self.spool is not None:
            await self.spool.start()
        metrics.track_recorder(self)

    async def stop(self, timeout: float = 20.0) -> None:  # noqa: ASYNC109 - the drain's own deadline
        """Drain the queue (graceful shutdown), then stop; whatever is still unwritten after `timeout`
        seconds is lost, and logged as such."""
        task = self._task
        if task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            lost = self.pending
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            log.error("usage recorder stopped after %.1fs with %d records unwritten", timeout, lost)
        self._task = None
        if self.spool is not None:
            await self.spool.stop()

    async def flush(self) -> None:
        """Wait until everything recorded so far is written (tests, and admin pages that want fresh data)."""
        # Polling keeps the writer free of bookkeeping for a rarely used call.
        while self.pending and self.running:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    # ---------------------------------------------------------------------------------------- writer

    async def _run(self) -> None:
        while True:
            batch = await self._next_batch()
            self._in_flight = len(batch)
            self._filling = []
            if not batch:
                return  # only when stopping with an empty queue
            try:
                await self._write_with_retry(batch)
            finally:
                self._in_flight = 0

    def _take_nowait(self, limit: int, into: list[UsageEvent]) -> None:
        while len(into) < limit:
            try:
                into.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                return

    async def _next_batch(self) -> list[UsageEvent]:
        batch: list[UsageEvent] = []
        # Counted as pending while it fills: events off the queue are not yet written.
        self._filling = batch
        self._take_nowait(self._batch_size, batch)
        if not batch:
            if self._stopping.is_set():
                return batch
            getter = asyncio.ensure_future(self._queue.get())
            stopper = asyncio.ensure_future(self._stopping.wait())
            try:
                await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
                if not getter.done():
                    getter.cancel()
                    # Queue.get puts a cancelled getter's item back; nothing is lost.
                    with contextlib.suppress(asyncio.CancelledError):
                        await getter
            if getter.done() and not getter.cancelled():
                batch.append(getter.result())
            self._take_nowait(self._batch_size, batch)
            if not batch:
                return batch
        # Fill the batch for up to flush_interval after its first event (not when shutting down).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._flush_interval
        while len(batch) < self._batch_size and not self._stopping.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
            self._take_nowait(self._batch_size, batch)
        # A backlog: what is queued goes along, up to the bound.
        self._take_nowait(self._backlog_batch_size, batch)
        return batch

    async def _write_with_retry(self, batch: list[UsageEvent]) -> None:
        delay = BACKOFF_START
        write = self._write_batch
        while batch:
            try:
                async with asyncio.timeout(WRITE_TIMEOUT):
                    await write(batch)
            except Exception as exc:  # the writer's boundary: any driver error is logged, then handled
                self.failures += 1
                write = self._write_again
                if await self._rows_at_fault(exc):
                    # The database is there and refused this batch: find the rows it refuses, set them
                    # aside, write the rest. What is left is what could not be written while it went away.
                    batch = await self._isolate(batch)
                    if not batch:
                        return
                log.warning(
                    "usage write of %d records failed (%s: %s); retrying in %.1fs, %d waiting",
                    len(batch),
                    type(exc).__name__,
                    _short(exc),
                    delay,
                    self._queue.qsize(),
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_CAP)
            else:
                self.written += len(batch)
                self._handled(batch)
                return

    async def _rows_at_fault(self, exc: BaseException) -> bool:
        """A failure is the rows' when the error says so, or when the database answers a probe right after
        it (whatever the driver called the error): only then can retrying the same rows never help. A
        connection that broke under the write is never the rows' fault, though a probe on a new connection
        answers at once (a killed backend, a database just restarted)."""
        if self._is_permanent(exc):
            return True
        if self._is_connection_error(exc):
            return False
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                return await self._probe()
        except Exception:  # a probe that fails or hangs means the database is away
            return False

    async def _isolate(self, batch: list[UsageEvent]) -> list[UsageEvent]:
        """Write the batch in halves, down to single rows; a single row the database refuses goes to the
        dead letters. Returns the rows not yet handled when the database stops answering (retried)."""
        stack = [batch]
        while stack:
            part = stack.pop()
            try:
                async with asyncio.timeout(WRITE_TIMEOUT):
                    await self._write_again(part)
            except Exception as exc:  # same boundary as above, on a smaller part
                if not await self._rows_at_fault(exc):
                    return [*part, *(event for rest in reversed(stack) for event in rest)]
                if len(part) > 1:
                    middle = len(part) // 2
                    stack.extend((part[middle:], part[:middle]))
                    continue
                if not await self._set_aside(part[0], exc):
                    return [*part, *(event for rest in reversed(stack) for event in rest)]
            else:
                self.written += len(part)
                self._handled(part)
        return []

    async def _set_aside(self, event: UsageEvent, exc: BaseException) -> bool:
        """Store a refused record as a dead letter. False when that write failed because the database went
        away (retry later); a dead-letter insert the database itself refuses loses the record, loudly."""
        from router.store.dead_letters import describe_refusal

        reason = describe_refusal(exc)
        try:
            async with asyncio.timeout(WRITE_TIMEOUT):
                await self._dead_letter([(event, reason)])
        except Exception as letter_exc:  # boundary: the dead-letter store is the last resort
            if not isinstance(letter_exc, NoDeadLetterStore) and not await self._rows_at_fault(letter_exc):
                return False
            self.dropped += 1
            self._handled([event])
            log.error(
                "usage record %s refused by the database (%s) and could not be set aside (%s); dropped",
                event.request_id,
                reason,
                _short(letter_exc),
            )
            return True
        self.dead_lettered += 1
        self._handled([event])
        log.error(
            "usage record %s refused by the database (%s); set aside as a dead letter "
            "(`router usage-dead-letters` lists and replays them)",
            event.request_id,
            reason,
        )
        return True

    def _handled(self, events: Sequence[UsageEvent]) -> None:
        if self.spool is not None:
            self.spool.handled(events)

    async def _write_to_database(self, events: Sequence[UsageEvent]) -> None:
        assert self._database is not None
        async with self._database.transaction() as session:
            await write_usage_batch(session, events)

    async def _write_again_to_database(self, events: Sequence[UsageEvent]) -> None:
        assert self._database is not None
        async with self._database.transaction() as session:
            await write_usage_batch_again(session, events)

    async def _dead_letter_to_database(self, letters: Sequence[tuple[UsageEvent, str]]) -> None:
        from router.store.dead_letters import add_dead_letters

        if self._database is None:
            raise NoDeadLetterStore("no database to keep dead letters in")
        async with self._database.transaction() as session:
            await add_dead_letters(session, letters)

    async def _probe_database(self) -> bool:
        return self._database is not None and await self._database.ping()


def _default_is_permanent(exc: BaseException) -> bool:
    return is_permanent_write_error(exc)


def _tenant_label(event: UsageEvent) -> str:
    return f"tenant-{event.tenant_id}" if event.tenant_id is not None else "none"


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:200]
