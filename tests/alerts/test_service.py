"""The alert tasks keep going when the database is away, and say so once per outage rather than every
round."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from router.alerts.evaluator import AlertEvaluator
from router.alerts.service import HISTORY_DAYS, AlertService
from router.store.db import Database
from router.store.models import AlertDelivery
from tests.alerts.conftest import sender


async def test_a_database_without_the_schema_is_reported_once_and_the_loops_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'unmigrated.db'}")
    service = AlertService(AlertEvaluator(db), sender(db), interval=0.05, budget_interval=0.05, poll=0.05)
    caplog.set_level(logging.WARNING, logger="router.alerts")
    try:
        service.start()
        await asyncio.sleep(0.6)
        assert all(not task.done() for task in service._tasks)
    finally:
        await service.stop()
        await db.dispose()
    messages = sorted(r.getMessage() for r in caplog.records if r.name.startswith("router.alerts"))
    assert messages == [
        "alert delivery failed (OperationalError); retrying every 0.05 s",
        "alert evaluation failed (OperationalError); retrying every 0.05 s",
    ]


async def test_finished_deliveries_older_than_the_history_are_forgotten(database: Database) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=HISTORY_DAYS + 1)
    recent = datetime.now(UTC) - timedelta(days=HISTORY_DAYS - 1)
    async with database.transaction() as session:
        for subject, created, status in (
            ("old-delivered", long_ago, "delivered"),
            ("old-failed", long_ago, "failed"),
            ("old-pending", long_ago, "pending"),
            ("recent-delivered", recent, "delivered"),
        ):
            session.add(
                AlertDelivery(
                    alert_name="spend",
                    subject=subject,
                    window_start=created,
                    created_at=created,
                    status=status,
                )
            )
    service = AlertService(AlertEvaluator(database), sender(database))
    try:
        assert await service.prune() == 2
    finally:
        await service.sender.close()
    async with database.session() as session:
        left = sorted((await session.scalars(select(AlertDelivery.subject))).all())
    assert left == ["old-pending", "recent-delivered"]
