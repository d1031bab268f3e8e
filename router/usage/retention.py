"""The service's retention task: with ROUTER_USAGE_RETENTION_DAYS set, delete raw usage rows older than
that once at start and then hourly (store/usage_retention.py). Every replica may run it: deletes by date are
idempotent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from router.store.db import Database
from router.store.usage_retention import prune_raw_usage

log = logging.getLogger(__name__)


class RawUsagePruner:
    def __init__(self, db: Database, days: int, interval: float = 3600.0) -> None:
        self.db = db
        self.days = days
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.days > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="usage-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def prune_once(self) -> int:
        return await prune_raw_usage(self.db, datetime.now(UTC) - timedelta(days=self.days))

    async def _run(self) -> None:
        while True:
            try:
                deleted = await self.prune_once()
                if deleted:
                    log.info("usage retention: %d raw rows older than %d days deleted", deleted, self.days)
            except Exception:  # a database away now is tried again next round; the service goes on
                log.exception("usage retention failed; trying again in %.0f s", self.interval)
            await asyncio.sleep(self.interval)
