"""The service's upkeep of raw usage rows, at start and then hourly: on PostgreSQL the monthly partitions of
the current and the next months are created ahead (store/partitions.py); with ROUTER_USAGE_RETENTION_DAYS set,
rows older than that go (PostgreSQL: whole months; SQLite: by date in batches; store/usage_retention.py).
Every replica may run it: partition DDL takes turns under an advisory lock and every step is idempotent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from router.store.db import Database
from router.store.partitions import DEFAULT_AHEAD
from router.store.usage_retention import ensure_usage_partitions, prune_raw_usage

log = logging.getLogger(__name__)


class RawUsagePruner:
    def __init__(
        self, db: Database, days: int, interval: float = 3600.0, *, partitions_ahead: int = DEFAULT_AHEAD
    ) -> None:
        self.db = db
        self.days = days
        self.interval = interval
        self.partitions_ahead = partitions_ahead
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        # SQLite has no partitions to keep: only a retention gives it work.
        if self._task is None and (self.days > 0 or not self.db.is_sqlite):
            self._task = asyncio.create_task(self._run(), name="usage-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def prune_once(self) -> int:
        return await prune_raw_usage(self.db, datetime.now(UTC) - timedelta(days=self.days))

    async def upkeep_once(self) -> tuple[list[str], int]:
        """One round: the partitions created ahead (their names), then the retention (rows removed)."""
        created = await ensure_usage_partitions(self.db, datetime.now(UTC), self.partitions_ahead)
        deleted = await self.prune_once() if self.days > 0 else 0
        return created, deleted

    async def _run(self) -> None:
        while True:
            try:
                created, deleted = await self.upkeep_once()
                if created:
                    log.info("usage partitions created: %s", ", ".join(created))
                if deleted:
                    log.info("usage retention: %d raw rows older than %d days removed", deleted, self.days)
            except Exception:  # a database away (or a lock not had in time) is tried again next round
                log.exception("usage upkeep failed; trying again in %.0f s", self.interval)
            await asyncio.sleep(self.interval)
