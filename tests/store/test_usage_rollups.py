"""Hourly rollups (store/usage_rollups.py) on SQLite and PostgreSQL: kept by the writer in the raw rows'
transaction, equal to a recomputation from raw rows after concurrent writers, repaired by the rebuild, and
read by the reports (whole hours from rollups, partial hours from raw rows)."""

from __future__ import annotations

import asyncio
import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from router.store.db import Database
from router.store.usage_models import UsageDaily, UsageHourly
from router.store.usage_reports import aggregate_usage, month_to_date_spend
from router.store.usage_rollups import MEASURES, rebuild_rollups
from router.store.usage_writes import UsageEvent, write_usage_batch
from tests.usage.helpers import event

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


async def _rollups(database: Database) -> dict[tuple[Any, ...], tuple[int, ...]]:
    async with database.session() as session:
        rows = (await session.scalars(select(UsageHourly))).all()
    return {
        (row.hour.replace(tzinfo=UTC), row.dims): tuple(getattr(row, name) for name in MEASURES)
        for row in rows
    }


def _events(seed: int, n: int) -> list[UsageEvent]:
    rng = random.Random(seed)
    return [
        event(
            created_at=T0 + timedelta(seconds=rng.randrange(0, 4 * 3600)),
            tenant_id=rng.choice([1, 2, None]),
            key_id=rng.choice([10, 11, None]),
            key_prefix=rng.choice(["rk-a", "rk-b", None]),
            member=rng.choice(["ann@example.com", None]),
            requested_model=rng.choice(["claude-sonnet-4", "claude-haiku"]),
            target=rng.choice(["openai/gpt-4.1", None]),
            outcome=rng.choice(["ok", "ok", "error", "rejected", "client_cancelled"]),
            input_tokens=rng.randrange(0, 5000),
            output_tokens=rng.randrange(0, 900),
            cache_read_tokens=rng.randrange(0, 300),
            cache_write_tokens=rng.randrange(0, 30),
            cost_usd=rng.randrange(0, 10**6) / 10**7 + 0.1 / 3,
            latency_ms=rng.randrange(1, 9000),
            ttft_ms=rng.choice([None, rng.randrange(1, 900)]),
        )
        for _ in range(n)
    ]


async def test_rollups_written_by_concurrent_writers_equal_a_recomputation_from_raw_rows(
    usage_db: Database,
) -> None:
    batches = [_events(seed, 60) for seed in range(12)]

    async def write(batch: list[UsageEvent]) -> None:
        async with usage_db.transaction() as session:
            await write_usage_batch(session, batch)

    # Twelve transactions at once, all adding to the same few hours and groups.
    await asyncio.gather(*(write(batch) for batch in batches))
    kept = await _rollups(usage_db)
    async with usage_db.transaction() as session:
        assert await rebuild_rollups(session) == len(kept)
    assert await _rollups(usage_db) == kept
    everything = [e for batch in batches for e in batch]
    assert sum(m[0] for m in kept.values()) == len(everything)
    assert sum(m[1] for m in kept.values()) == sum(e.outcome in ("error", "rejected") for e in everything)
    assert sum(m[2] for m in kept.values()) == sum(e.input_tokens for e in everything)
    assert sum(m[8] for m in kept.values()) == sum(e.ttft_ms or 0 for e in everything)
    assert sum(m[9] for m in kept.values()) == sum(e.ttft_ms is not None for e in everything)


async def test_rebuild_since_repairs_only_the_hours_from_its_start_and_is_idempotent(
    usage_db: Database,
) -> None:
    async with usage_db.transaction() as session:
        await write_usage_batch(session, _events(1, 200))
    good = await _rollups(usage_db)
    async with usage_db.transaction() as session:
        await session.execute(update(UsageHourly).values(requests=999))
    async with usage_db.transaction() as session:
        await rebuild_rollups(session, since=T0 + timedelta(hours=2, minutes=30))
    repaired = await _rollups(usage_db)
    for (hour, dims), measures in repaired.items():
        if hour >= T0 + timedelta(hours=2):
            assert measures == good[(hour, dims)]
        else:
            assert measures[0] == 999
    for _ in range(2):
        async with usage_db.transaction() as session:
            await rebuild_rollups(session)
        assert await _rollups(usage_db) == good


async def test_reports_read_rollups_for_whole_hours_and_raw_rows_for_the_partial_ends(
    usage_db: Database,
) -> None:
    events = _events(2, 300)
    async with usage_db.transaction() as session:
        await write_usage_batch(session, events)
    since, until = T0 + timedelta(minutes=17), T0 + timedelta(hours=3, minutes=41)
    inside = [e for e in events if since <= e.created_at < until]
    async with usage_db.session() as session:
        (total,) = await aggregate_usage(session, since=since, until=until)
        by_model = await aggregate_usage(session, since=since, until=until, group_by="model")
        by_hour = await aggregate_usage(session, since=since, until=until, group_by="hour")
        tenant_1 = await aggregate_usage(session, since=since, until=until, tenant_id=1)
        by_key, by_tenant = await month_to_date_spend(session, since)
    assert total.requests == len(inside)
    assert total.output_tokens == sum(e.output_tokens for e in inside)
    assert total.cost_usd == pytest.approx(sum(e.cost_usd for e in inside), abs=1e-6)
    assert {r.name: r.requests for r in by_model} == {
        m: sum(e.requested_model == m for e in inside) for m in {e.requested_model for e in inside}
    }
    assert [r.name for r in by_hour] == [f"2025-06-02 {h:02d}:00" for h in range(9, 13)]
    assert tenant_1[0].requests == sum(e.tenant_id == 1 for e in inside)
    after = [e for e in events if e.created_at >= since]
    assert by_tenant[2] == pytest.approx(sum(e.cost_usd for e in after if e.tenant_id == 2), abs=1e-6)
    assert by_key[10] == pytest.approx(sum(e.cost_usd for e in after if e.key_id == 10), abs=1e-6)
    # Half a cent in many rows: the rollup's integer nano-dollars print without float noise.
    assert len(repr(total.cost_usd).split(".")[1]) <= 9


async def test_hostile_counts_are_capped_alike_by_the_writer_and_the_rebuild(usage_db: Database) -> None:
    huge = [
        event(created_at=T0, input_tokens=2**63 - 1, latency_ms=2**63 - 1, cost_usd=1e300, ttft_ms=2**62)
        for _ in range(3)
    ]
    async with usage_db.transaction() as session:
        await write_usage_batch(session, huge)
    kept = await _rollups(usage_db)
    async with usage_db.transaction() as session:
        await rebuild_rollups(session)
    assert await _rollups(usage_db) == kept
    (measures,) = kept.values()
    assert measures[0] == 3 and measures[2] == 3 * 2**46 and measures[6] == 3 * 2**46


async def _daily(database: Database) -> dict[tuple[Any, ...], tuple[int, ...]]:
    async with database.session() as session:
        rows = (await session.scalars(select(UsageDaily))).all()
    return {
        (row.day.replace(tzinfo=UTC), row.dims): tuple(getattr(row, name) for name in MEASURES)
        for row in rows
    }


def _hours_summed_per_day(
    hourly: dict[tuple[Any, ...], tuple[int, ...]],
) -> dict[tuple[Any, ...], tuple[int, ...]]:
    days: dict[tuple[Any, ...], tuple[int, ...]] = {}
    for (hour, dims), values in hourly.items():
        key = (hour.replace(hour=0), dims)
        days[key] = tuple(a + b for a, b in zip(days.get(key, (0,) * len(values)), values, strict=True))
    return days


async def test_daily_rollups_kept_by_the_writer_are_the_hours_summed_and_answer_multi_day_reports(
    usage_db: Database,
) -> None:
    rng = random.Random(7)
    start = datetime(2025, 3, 1, 22, 17, tzinfo=UTC)
    events = [
        event(
            created_at=start + timedelta(minutes=rng.randrange(0, 6 * 24 * 60)),
            tenant_id=rng.choice([1, 2]),
            key_prefix=rng.choice(["rk-a", "rk-b"]),
            requested_model=rng.choice(["claude-sonnet-4", "claude-haiku"]),
            outcome=rng.choice(["ok", "ok", "error"]),
            input_tokens=rng.randrange(0, 5000),
            cost_usd=rng.randrange(0, 10**6) / 10**7,
        )
        for _ in range(400)
    ]
    for i in range(0, len(events), 37):
        async with usage_db.transaction() as session:
            await write_usage_batch(session, events[i : i + 37])
    kept = await _daily(usage_db)
    assert kept == _hours_summed_per_day(await _rollups(usage_db)) and len({day for day, _ in kept}) == 7

    # A range with partial hours and partial days at both ends: raw rows, hours and days, added up exactly.
    since, until = start + timedelta(hours=5, minutes=41), start + timedelta(days=4, hours=3, minutes=9)
    inside = [e for e in events if since <= e.created_at < until]
    async with usage_db.session() as session:
        (total,) = await aggregate_usage(session, since=since, until=until)
        by_day = await aggregate_usage(session, since=since, until=until, group_by="day")
        by_hour = await aggregate_usage(session, since=since, until=until, group_by="hour")
    nanos = sum(math.floor(e.cost_usd * 1e9 + 0.5) for e in inside)
    assert (total.requests, total.input_tokens, round(total.cost_usd * 1e9)) == (
        len(inside),
        sum(e.input_tokens for e in inside),
        nanos,
    )
    assert sum(r.requests for r in by_day) == sum(r.requests for r in by_hour) == len(inside)
    assert [r.name for r in by_day] == sorted({e.created_at.strftime("%Y-%m-%d") for e in inside})

    # The rebuild recomputes the days as well (from a given day on), and agrees with the writer.
    async with usage_db.transaction() as session:
        await session.execute(update(UsageDaily).values(requests=0))
        await rebuild_rollups(session, since=start + timedelta(days=2, hours=5))
    repaired = await _daily(usage_db)
    # since = 2025-03-04 03:17: that day on is rebuilt; the days before keep the zeroed counts.
    cut = datetime(2025, 3, 4, tzinfo=UTC)
    assert {k: v for k, v in repaired.items() if k[0] >= cut} == {
        k: v for k, v in kept.items() if k[0] >= cut
    }
    assert all(v[0] == 0 for k, v in repaired.items() if k[0] < cut)
    async with usage_db.transaction() as session:
        await rebuild_rollups(session)
    assert await _daily(usage_db) == kept
