"""The usage writer's set-based statements (store/bulk_rows.py) on SQLite and PostgreSQL: several replicas'
recorders adding to the same groups at once keep exact totals, without deadlocks; keys' last-used times only
move forward; a value too long for its column is refused, not cut."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, StatementError

from router.store.db import Database
from router.store.models import ApiKey
from router.store.usage_models import UsageDaily, UsageHourly, UsageRecord
from router.store.usage_rollups import MEASURES, rebuild_rollups, usd_to_nanos
from router.store.usage_writes import UsageEvent, insert_usage_batch, write_usage_batch
from router.usage.recorder import UsageRecorder
from tests.usage.helpers import add_tenant_with_keys, event

T0 = datetime(2025, 6, 2, 22, 30, tzinfo=UTC)  # the events cross midnight: two days, several hours


async def _sums(database: Database, table: Any) -> dict[tuple[Any, ...], tuple[int, ...]]:
    bucket = table.hour if table is UsageHourly else table.day
    async with database.session() as session:
        rows = (
            await session.execute(select(bucket, table.dims, *(getattr(table, m) for m in MEASURES)))
        ).all()
    return {(when.replace(tzinfo=UTC), dims): tuple(values) for when, dims, *values in rows}


async def test_replicas_recording_the_same_groups_at_once_keep_rollups_equal_to_the_raw_rows(
    usage_db: Database,
) -> None:
    _, keys = await add_tenant_with_keys(usage_db, "team", [f"rk-{k:03d}" for k in range(120)])
    rng = random.Random(17)
    events = [
        event(
            created_at=T0 + timedelta(seconds=rng.randrange(0, 3 * 3600)),
            tenant_id=1,
            key_id=keys[i % len(keys)],
            key_prefix=f"rk-{i % len(keys):03d}",
            member=f"m{i % len(keys)}@example.com",
            requested_model=rng.choice(["claude-sonnet-4", "claude-haiku"]),
            target="openai/gpt-4.1",
            outcome=rng.choice(["ok", "ok", "error"]),
            input_tokens=rng.randrange(0, 5000),
            output_tokens=rng.randrange(0, 900),
            cost_usd=rng.randrange(0, 10**6) / 10**7 + 0.1 / 3,
            latency_ms=rng.randrange(1, 9000),
            ttft_ms=rng.choice([None, rng.randrange(1, 900)]),
        )
        for i in range(2400)
    ]
    # Four replicas, each with its own engine and recorder, every one writing to every group.
    replicas = [Database(usage_db.url) for _ in range(4)]
    recorders = [UsageRecorder(db, queue_size=5000, batch_size=50, flush_interval=0.01) for db in replicas]
    try:
        for recorder in recorders:
            await recorder.start()
        for i, one in enumerate(events):
            recorders[i % len(recorders)].record(one)
            if i % 300 == 0:
                await asyncio.sleep(0)  # the writers take what is queued: batches of 50 up to 500
        await asyncio.gather(*(recorder.stop(timeout=120) for recorder in recorders))
        assert [r.written for r in recorders] == [600] * 4
        # No write failed (a deadlock would have: PostgreSQL aborts one of the two transactions).
        assert sum(r.failures + r.dead_lettered + r.dropped for r in recorders) == 0
    finally:
        for db in replicas:
            await db.dispose()

    hourly, daily = await _sums(usage_db, UsageHourly), await _sums(usage_db, UsageDaily)
    assert sum(m[0] for m in hourly.values()) == sum(m[0] for m in daily.values()) == len(events)
    assert sum(m[6] for m in hourly.values()) == sum(usd_to_nanos(e.cost_usd) for e in events)
    assert sum(m[6] for m in daily.values()) == sum(usd_to_nanos(e.cost_usd) for e in events)
    assert sum(m[2] for m in daily.values()) == sum(e.input_tokens for e in events)
    async with usage_db.transaction() as session:
        await rebuild_rollups(session)
    assert await _sums(usage_db, UsageHourly) == hourly
    assert await _sums(usage_db, UsageDaily) == daily
    async with usage_db.session() as session:
        assert await session.scalar(select(func.count()).select_from(UsageRecord)) == len(events)
        used = dict((await session.execute(select(ApiKey.id, ApiKey.last_used_at))).all())
    for key_id in keys:
        latest = max(e.created_at for e in events if e.key_id == key_id)
        stored = used[key_id]
        assert stored is not None and stored.replace(tzinfo=UTC) == latest


async def test_a_keys_last_used_time_never_moves_back_for_an_older_record(usage_db: Database) -> None:
    _, (key_id,) = await add_tenant_with_keys(usage_db, "team", ["rk-1"])
    for when in (T0 + timedelta(hours=2), T0):  # e.g. a spool replaying a record from before a crash
        async with usage_db.transaction() as session:
            await write_usage_batch(session, [event(created_at=when, key_id=key_id)])
    async with usage_db.session() as session:
        used = await session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key_id))
    assert used is not None and used.replace(tzinfo=UTC) == T0 + timedelta(hours=2)


@pytest.mark.postgres
async def test_a_value_too_long_for_its_column_is_refused_not_cut(pg_db: Database) -> None:
    # record() bounds every value first; a caller that did not is refused by the column (and the recorder
    # sets the row aside as a dead letter), as an INSERT … VALUES would be: the array cast does not cut it.
    unbounded = UsageEvent(created_at=T0, request_id="r" * 65)
    with pytest.raises(DBAPIError):
        async with pg_db.transaction() as session:
            await insert_usage_batch(session, [unbounded])
    async with pg_db.session() as session:
        assert await session.scalar(select(func.count()).select_from(UsageRecord)) == 0


@pytest.mark.postgres
async def test_rows_copied_in_go_with_their_transaction_when_it_fails_later(pg_db: Database) -> None:
    # The raw rows go by COPY on the driver's connection: inside the batch's transaction, not on their own.
    with pytest.raises(RuntimeError):
        async with pg_db.transaction() as session:
            await insert_usage_batch(session, [event(created_at=T0), event(created_at=T0)])
            raise RuntimeError("the batch fails after its rows and rollups")
    async with pg_db.session() as session:
        assert await session.scalar(select(func.count()).select_from(UsageRecord)) == 0
        assert await session.scalar(select(func.count()).select_from(UsageHourly)) == 0


async def test_boolean_values_are_checked_as_an_orm_insert_checks_them(usage_db: Database) -> None:
    # Columns of plain booleans go as they are; anything else through the column's own processor: 1 and 0
    # are taken as True and False, other values refused, on both backends and both write paths.
    events = [event(created_at=T0, stream=True), event(created_at=T0, tokens_estimated=1)]
    async with usage_db.transaction() as session:
        await write_usage_batch(session, events)
    async with usage_db.session() as session:
        stored = (await session.execute(select(UsageRecord.stream, UsageRecord.tokens_estimated))).all()
    assert sorted(tuple(row) for row in stored) == [(False, True), (True, False)]
    with pytest.raises((TypeError, StatementError)):
        async with usage_db.transaction() as session:
            await write_usage_batch(session, [event(created_at=T0, stream="yes")])
