"""The database as the admin pages and the management API use it, handed to their handlers by Litestar's
dependency injection (router/dependencies.py: `store`).

A read gets a session that is rolled back at the end. A change runs in one transaction (the store function
writes the audit entry and bumps the config version in it); after the commit this process rebuilds its
routing snapshot at once, and the other processes follow by polling the version.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from router.routing.model import RoutingConfig
from router.store.db import Database, DbSession
from router.store.snapshot import SnapshotHolder

log = logging.getLogger(__name__)


class StoreAccess:
    def __init__(self, db: Database, snapshots: SnapshotHolder | None = None) -> None:
        self.db = db
        self._snapshots = snapshots

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[DbSession]:
        """A read-only session (rolled back at the end)."""
        async with self.db.session() as session:
            yield session

    @asynccontextmanager
    async def mutating(self) -> AsyncIterator[DbSession]:
        """One transaction; once it has committed, this process's routing snapshot is rebuilt."""
        async with self.db.transaction() as session:
            yield session
        await self.refresh_snapshot()

    async def routing_config(self) -> RoutingConfig | None:
        """This process's routing snapshot, refreshed first (a change made elsewhere may not have reached it
        yet); None until the database has been reachable once."""
        if self._snapshots is None:
            return None
        await self._snapshots.refresh()
        return self._snapshots.current

    async def refresh_snapshot(self) -> None:
        if self._snapshots is None:
            return
        try:
            await self._snapshots.refresh()
        except Exception:  # the change is committed; the version poll will pick it up
            log.exception("routing snapshot refresh after a change from the admin page or the API failed")
