"""Retention of raw usage rows and the upkeep of PostgreSQL's monthly partitions. The hourly rollups are
kept: reports over pruned hours still add up; only the latest-requests list and request detail lose those
rows.

- PostgreSQL (usage_records partitioned by month, store/partitions.py): whole months are dropped once their
  last moment is older than the cutoff, so a row lives between the retention and the retention plus a month;
  no row-by-row delete, no table bloat, no vacuum debt. The default partition's old rows are deleted by date.
- SQLite (one table), or a PostgreSQL table not partitioned: rows older than the cutoff are deleted in
  batches, each batch its own short transaction (so the writer and readers never wait long behind it).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Connection, delete, select

from router.store.db import Database
from router.store.partitions import (
    DEFAULT_AHEAD,
    drop_partitions_before,
    ensure_partitions,
    is_partitioned,
)
from router.store.usage_models import UsageRecord
from router.store.usage_writes import utc

DEFAULT_BATCH = 5_000

log = logging.getLogger(__name__)


async def prune_raw_usage(db: Database, before: datetime, batch_size: int = DEFAULT_BATCH) -> int:
    """Remove raw usage rows created before `before` (PostgreSQL: the whole months before it); returns how
    many. Idempotent, safe on every replica."""
    cutoff = utc(before)
    async with db.transaction() as session:
        connection = await session.connection()
        partitioned = await connection.run_sync(is_partitioned)
        if partitioned:
            return int(await connection.run_sync(lambda sync: _drop_months(sync, cutoff)))
    deleted = 0
    while True:
        async with db.transaction() as session:
            ids = select(UsageRecord.id).where(UsageRecord.created_at < cutoff).limit(batch_size)
            result = await session.execute(
                delete(UsageRecord).where(UsageRecord.id.in_(ids.scalar_subquery())),
                execution_options={"synchronize_session": False},
            )
            count = int(getattr(result, "rowcount", 0) or 0)
        deleted += count
        if count < batch_size:
            return deleted


def _drop_months(connection: Connection, cutoff: datetime) -> int:
    dropped, rows = drop_partitions_before(connection, cutoff)
    if dropped:
        log.info("usage retention: partitions %s dropped (before %s)", ", ".join(dropped), cutoff.isoformat())
    return rows


async def ensure_usage_partitions(db: Database, now: datetime, ahead: int = DEFAULT_AHEAD) -> list[str]:
    """PostgreSQL: the partitions of the current and the next `ahead` months (and the default one); the
    names created. Nothing on SQLite."""
    async with db.transaction() as session:
        connection = await session.connection()
        return await connection.run_sync(lambda sync: ensure_partitions(sync, utc(now), ahead))
