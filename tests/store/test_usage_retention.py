"""Retention of raw usage rows on SQLite and PostgreSQL: old rows deleted in batches, rollups kept (reports over
pruned hours still add up), newer rows untouched; the service's pruner does the same on its own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from router.store.db import Database
from router.store.usage_models import UsageRecord
from router.store.usage_reports import aggregate_usage
from router.store.usage_retention import prune_raw_usage
from router.store.usage_writes import write_usage_batch
from router.usage.retention import RawUsagePruner
from tests.usage.helpers import event


async def _raw_count(database: Database) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(UsageRecord)) or 0)


async def test_pruning_deletes_old_raw_rows_in_batches_and_keeps_the_rollups(usage_db: Database) -> None:
    now = datetime.now(UTC)
    old = [event(created_at=now - timedelta(days=100, minutes=i), cost_usd=0.5) for i in range(23)]
    new = [event(created_at=now - timedelta(days=1, minutes=i), cost_usd=0.25) for i in range(4)]
    async with usage_db.transaction() as session:
        await write_usage_batch(session, old + new)
    assert await prune_raw_usage(usage_db, now - timedelta(days=90), batch_size=5) == 23
    assert await _raw_count(usage_db) == 4
    assert await prune_raw_usage(usage_db, now - timedelta(days=90), batch_size=5) == 0
    async with usage_db.session() as session:
        (total,) = await aggregate_usage(
            session, since=(now - timedelta(days=200)).replace(minute=0, second=0)
        )
    assert total.requests == 27 and total.cost_usd == 12.5


async def test_the_service_pruner_runs_on_its_own_when_retention_is_set(usage_db: Database) -> None:
    now = datetime.now(UTC)
    async with usage_db.transaction() as session:
        await write_usage_batch(session, [event(created_at=now - timedelta(days=40)), event(created_at=now)])
    off = RawUsagePruner(usage_db, days=0, interval=0.05)
    off.start()
    await asyncio.sleep(0.2)
    await off.stop()
    assert await _raw_count(usage_db) == 2
    pruner = RawUsagePruner(usage_db, days=30, interval=0.05)
    pruner.start()
    try:
        for _ in range(100):
            if await _raw_count(usage_db) == 1:
                break
            await asyncio.sleep(0.05)
    finally:
        await pruner.stop()
    assert await _raw_count(usage_db) == 1
