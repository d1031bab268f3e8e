"""The usage recorder: never blocks the request path, batches, survives database outages, drains on stop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from router.observability import metrics
from router.store.db import Database
from router.store.models import ApiKey
from router.store.usage_models import UsageHourly, UsageRecord
from router.store.usage_writes import UsageEvent, write_usage_batch
from router.usage.recorder import UsageRecorder
from tests.usage.conftest import TcpProxy
from tests.usage.helpers import add_tenant_with_keys, event


async def eventually(condition: Callable[[], bool], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def count_rows(database: Database) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(UsageRecord)) or 0)


class FakeWriter:
    """Records batch sizes; fails the first `fail_times` calls, and any batch holding a poisoned event."""

    def __init__(self, fail_times: int = 0, poisoned: frozenset[str] = frozenset()) -> None:
        self.batches: list[list[str]] = []
        self.fail_times = fail_times
        self.poisoned = poisoned
        self.calls = 0

    async def __call__(self, events: Sequence[UsageEvent]) -> None:
        self.calls += 1
        if self.calls <= self.fail_times:
            raise ConnectionRefusedError("database away")
        if any(e.request_id in self.poisoned for e in events):
            raise ValueError("bad row")
        self.batches.append([e.request_id for e in events])


def fake_recorder(writer: FakeWriter, **kwargs: float) -> UsageRecorder:
    return UsageRecorder(
        None,
        queue_size=int(kwargs.get("queue_size", 1000)),
        batch_size=int(kwargs.get("batch_size", 10)),
        flush_interval=kwargs.get("flush_interval", 0.05),
        backlog_batch_size=int(kwargs["backlog_batch_size"]) if "backlog_batch_size" in kwargs else None,
        write_batch=writer,
        is_permanent=lambda exc: isinstance(exc, ValueError),
    )


async def test_record_never_blocks_and_counts_and_warns_about_drops(caplog: pytest.LogCaptureFixture) -> None:
    recorder = fake_recorder(FakeWriter(), queue_size=3)  # not started: nothing drains the queue
    caplog.set_level(logging.WARNING, logger="router.usage.recorder")
    started = time.perf_counter()
    for _ in range(10):
        recorder.record(event())
    assert time.perf_counter() - started < 0.05
    assert (recorder.pending, recorder.dropped) == (3, 7)
    warnings = [r.getMessage() for r in caplog.records if "usage queue full" in r.getMessage()]
    assert len(warnings) == 1  # rate-limited, not one line per drop
    assert "1 dropped so far" in warnings[0]


async def test_events_are_written_in_batches_of_at_most_batch_size() -> None:
    writer = FakeWriter()
    recorder = fake_recorder(writer, batch_size=10, backlog_batch_size=10, flush_interval=0.2)
    for _ in range(25):
        recorder.record(event())
    await recorder.start()
    await recorder.stop(timeout=5)
    assert [len(b) for b in writer.batches] == [10, 10, 5]
    assert (recorder.written, recorder.pending) == (25, 0)


async def test_a_backlog_is_written_in_bigger_batches_up_to_the_backlog_bound() -> None:
    writer = FakeWriter()
    recorder = fake_recorder(writer, batch_size=10, flush_interval=0.2)  # backlog bound: 10 batches
    for _ in range(250):
        recorder.record(event())
    await recorder.start()
    await recorder.stop(timeout=5)
    assert [len(b) for b in writer.batches] == [100, 100, 50]
    assert (recorder.written, recorder.pending) == (250, 0)


async def test_a_lone_event_is_written_within_the_flush_interval() -> None:
    writer = FakeWriter()
    recorder = fake_recorder(writer, batch_size=100, flush_interval=0.05)
    await recorder.start()
    recorder.record(event())
    started = time.monotonic()
    await eventually(lambda: recorder.written == 1, within=2)
    assert time.monotonic() - started < 1.0
    await recorder.stop(timeout=5)


async def test_events_in_a_batch_still_filling_count_as_pending_and_flush_waits_for_them() -> None:
    writer = FakeWriter()
    recorder = fake_recorder(writer, batch_size=100, flush_interval=0.5)
    await recorder.start()
    for _ in range(3):
        recorder.record(event())
    await asyncio.sleep(0.05)  # the writer has taken them off the queue and waits for more
    assert recorder.pending == 3 and recorder.written == 0
    await recorder.flush()
    assert (recorder.written, recorder.pending) == (3, 0)
    await recorder.stop(timeout=5)


async def test_failed_writes_are_retried_with_backoff_and_nothing_is_lost() -> None:
    writer = FakeWriter(fail_times=3)
    recorder = fake_recorder(writer, batch_size=5, backlog_batch_size=5)
    await recorder.start()
    for _ in range(12):
        recorder.record(event())
    await eventually(lambda: recorder.written == 12)
    assert recorder.failures == 3
    assert sorted(len(b) for b in writer.batches) == [2, 5, 5]
    await recorder.stop(timeout=5)


async def test_a_row_the_database_rejects_is_dropped_alone() -> None:
    bad = event()
    writer = FakeWriter(poisoned=frozenset({bad.request_id}))
    recorder = fake_recorder(writer, batch_size=10)
    for e in [event(), bad, event()]:
        recorder.record(e)
    await recorder.start()
    await recorder.stop(timeout=5)
    assert (recorder.written, recorder.dropped) == (2, 1)
    assert bad.request_id not in {rid for b in writer.batches for rid in b}


async def test_stop_gives_up_after_its_timeout_when_the_database_stays_away(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = fake_recorder(FakeWriter(fail_times=10_000))
    recorder.record(event())
    await recorder.start()
    caplog.set_level(logging.ERROR, logger="router.usage.recorder")
    await recorder.stop(timeout=0.3)
    assert not recorder.running
    assert any("1 records unwritten" in r.getMessage() for r in caplog.records)


async def test_recorded_events_reach_the_database_and_mark_keys_used(usage_db: Database) -> None:
    _, (key_id,) = await add_tenant_with_keys(usage_db, "team", ["rk-used"])
    recorder = UsageRecorder(usage_db, queue_size=10_000, batch_size=200, flush_interval=0.05)
    await recorder.start()
    for _ in range(1000):
        recorder.record(event(tenant_id=1, key_id=key_id, cost_usd=0.001), "team")
    await recorder.stop(timeout=30)
    assert recorder.written == 1000
    assert await count_rows(usage_db) == 1000
    async with usage_db.session() as session:
        assert await session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key_id)) is not None


async def test_a_write_that_committed_but_lost_its_acknowledgement_is_not_written_again(
    usage_db: Database,
) -> None:
    calls = 0

    async def commit_then_lose_the_answer(events: Sequence[UsageEvent]) -> None:
        """The rows commit; then the connection dies before the client hears so (as under a restart)."""
        nonlocal calls
        calls += 1
        async with usage_db.transaction() as session:
            await write_usage_batch(session, events)
        raise ConnectionResetError("connection lost while COMMIT was being answered")

    recorder = UsageRecorder(
        usage_db, queue_size=100, batch_size=50, flush_interval=0.05, write_batch=commit_then_lose_the_answer
    )
    events = [event(tenant_id=1, cost_usd=0.001) for _ in range(20)]
    for one in events:
        recorder.record(one, "team")
    await recorder.start()
    await recorder.stop(timeout=15)
    # The database answers the probe after the failure, so the writer tries again, in halves: every
    # later write must find the rows already there.
    assert calls == 1
    assert (recorder.written, recorder.pending, recorder.dead_lettered) == (20, 0, 0)
    async with usage_db.session() as session:
        ids = list((await session.scalars(select(UsageRecord.request_id))).all())
        counted = await session.scalar(select(func.sum(UsageHourly.requests)))
    assert sorted(ids) == sorted(e.request_id for e in events)
    assert counted == 20  # the hourly rollups were not added to twice either


# How a write fails when its connection breaks under it (a restart, pg_terminate_backend, a cut network):
# SQLAlchemy's error caused by asyncpg's, or a socket error.
CONNECTION_LOSSES = [
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    ConnectionResetError("Connection reset by peer"),
]


def _driver_error(cause: BaseException) -> DBAPIError:
    try:
        raise DBAPIError("INSERT INTO usage_records ...", None, cause) from cause
    except DBAPIError as exc:
        return exc


class Rows:
    """A writer that fails as told, and the dead letters; the database answers every probe."""

    def __init__(self, fail: Callable[[int, Sequence[UsageEvent]], BaseException | None]) -> None:
        self.fail = fail
        self.calls = 0
        self.written: list[str] = []
        self.letters: list[str] = []

    async def write(self, events: Sequence[UsageEvent]) -> None:
        self.calls += 1
        error = self.fail(self.calls, events)
        if error is not None:
            raise error
        self.written += [e.request_id for e in events]

    async def dead_letter(self, letters: Sequence[tuple[UsageEvent, str]]) -> None:
        self.letters += [e.request_id for e, _ in letters]

    async def run(self, events: list[UsageEvent]) -> UsageRecorder:
        async def answers() -> bool:
            return True

        recorder = UsageRecorder(
            None,
            queue_size=100,
            batch_size=50,
            flush_interval=0.05,
            write_batch=self.write,
            dead_letter=self.dead_letter,
            probe=answers,
        )
        for one in events:
            recorder.record(one)
        await recorder.start()
        await recorder.stop(timeout=30)
        return recorder


@pytest.mark.parametrize("cause", CONNECTION_LOSSES, ids=lambda c: type(c).__name__)
async def test_a_write_cut_by_a_broken_connection_is_retried_not_set_aside_though_the_database_answers(
    cause: BaseException,
) -> None:
    # The connection stays broken for a few writes (each retry meets it), then the rows go through.
    rows = Rows(lambda call, _: _driver_error(cause) if call <= 5 else None)
    events = [event() for _ in range(10)]
    recorder = await rows.run(events)
    # Before: the probe on a new connection answered, so the rows were blamed, split and set aside.
    assert rows.letters == []
    assert sorted(rows.written) == sorted(e.request_id for e in events)
    assert (recorder.written, recorder.dead_lettered, recorder.dropped) == (10, 0, 0)


async def test_a_row_the_database_itself_refuses_is_still_set_aside() -> None:
    too_long = asyncpg.exceptions.StringDataRightTruncationError("value too long for type character varying")
    rows = Rows(
        lambda _, batch: _driver_error(too_long) if any(e.requested_model == "x" for e in batch) else None
    )
    events = [event(), event(requested_model="x"), event()]
    await rows.run(events)
    assert rows.letters == [events[1].request_id]
    assert sorted(rows.written) == sorted([events[0].request_id, events[2].request_id])


@pytest.mark.postgres
async def test_records_arrive_after_the_database_was_unreachable_for_a_while(
    pg_db: Database, pg_proxy: TcpProxy
) -> None:
    direct_url = pg_db.url
    proxied = Database(direct_url.replace("127.0.0.1:5432", f"127.0.0.1:{pg_proxy.port}"))
    recorder = UsageRecorder(proxied, queue_size=10_000, batch_size=50, flush_interval=0.05)
    await recorder.start()
    try:
        for _ in range(100):
            recorder.record(event())
        await eventually(lambda: recorder.written == 100)

        await pg_proxy.stop()  # connections cut, port refused
        for _ in range(150):
            recorder.record(event())
        await eventually(lambda: recorder.failures >= 2)
        assert recorder.written == 100 and recorder.pending == 150
        assert await count_rows(pg_db) == 100

        await pg_proxy.start()  # the same port is back
        await eventually(lambda: recorder.written == 250, within=20)
        assert recorder.dropped == 0
        assert await count_rows(pg_db) == 250
    finally:
        await recorder.stop(timeout=5)
        await proxied.dispose()


@pytest.mark.postgres
async def test_records_arrive_after_the_server_terminated_every_connection(pg_db: Database) -> None:
    recorder = UsageRecorder(pg_db, queue_size=10_000, batch_size=50, flush_interval=0.05)
    await recorder.start()
    try:
        for _ in range(60):
            recorder.record(event())
        await eventually(lambda: recorder.written == 60)
        killer = Database(pg_db.url)
        async with killer.session() as session:
            killed = await session.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        await killer.dispose()
        assert killed and killed >= 1
        for _ in range(60):
            recorder.record(event())
        await eventually(lambda: recorder.written == 120)
        assert await count_rows(pg_db) == 120
    finally:
        await recorder.stop(timeout=5)


async def test_recording_feeds_the_metrics_and_the_queue_gauges() -> None:
    writer = FakeWriter()
    recorder = fake_recorder(writer)
    await recorder.start()
    labels = {"tenant": "metrics-team", "target": "openai/gpt-4.1", "outcome": "ok"}
    before = metrics.REGISTRY.get_sample_value("router_requests_total", labels) or 0.0
    recorder.record(
        event(target="openai/gpt-4.1", input_tokens=40, cost_usd=0.5, created_at=datetime.now(UTC)),
        "metrics-team",
    )
    await recorder.stop(timeout=5)
    assert metrics.REGISTRY.get_sample_value("router_requests_total", labels) == before + 1
    assert metrics.REGISTRY.get_sample_value("router_usage_written_total") == recorder.written
