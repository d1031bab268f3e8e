"""The alert tasks keep going when the database is away, and say so once per outage rather than every
round."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from router.alerts.evaluator import AlertEvaluator
from router.alerts.service import AlertService
from router.store.db import Database
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
