"""Retention of raw usage rows: delete those older than a moment, in batches, each batch its own short
transaction (so the writer and readers never wait long behind it). The hourly rollups are kept: reports over
pruned hours still add up; only the latest-requests list and request detail lose those rows.

PostgreSQL's monthly partitions (dropping a whole month at once) are not built yet: both backends delete by
date in batches, over the (created_at) index.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from router.store.db import Database
from router.store.models import UsageRecord
from router.store.usage_writes import utc

DEFAULT_BATCH = 5_000


async def prune_raw_usage(db: Database, before: datetime, batch_size: int = DEFAULT_BATCH) -> int:
    """Delete raw usage rows created before `before`; returns how many. Idempotent, safe on every replica."""
    cutoff = utc(before)
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
