"""The alert tasks of one process: evaluate every `interval` seconds (budgets every `budget_interval`),
and send due deliveries as soon as this process claims one and every `poll` seconds (retries, and firings a
replica that stopped left behind). Started and stopped with the app, like the usage writer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta

from router.alerts.delivery import WebhookSender
from router.alerts.evaluator import AlertEvaluator
from router.store.alerts import prune_deliveries

log = logging.getLogger(__name__)

# Deliveries are history for the page: finished ones older than this are forgotten, checked hourly.
HISTORY_DAYS = 90
PRUNE_EVERY = 3600.0


class AlertService:
    def __init__(
        self,
        evaluator: AlertEvaluator,
        sender: WebhookSender,
        *,
        interval: float = 10.0,
        budget_interval: float = 60.0,
        poll: float = 2.0,
    ) -> None:
        self.evaluator = evaluator
        self.sender = sender
        self.interval = interval
        self.budget_interval = budget_interval
        self.poll = poll
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._budgets_at = -float("inf")
        self._pruned_at = -float("inf")

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._evaluate_loop(), name="alerts-evaluate"),
                asyncio.create_task(self._send_loop(), name="alerts-send"),
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.sender.close()

    def wake(self) -> None:
        """Look for due deliveries now (a test message was queued)."""
        self._wake.set()

    async def evaluate_once(self) -> list[int]:
        now = time.monotonic()
        budgets = now - self._budgets_at >= self.budget_interval
        if budgets:
            self._budgets_at = now
        claimed = await self.evaluator.evaluate(budgets=budgets)
        if claimed:
            self._wake.set()
        if now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            await self.prune()
        return claimed

    async def prune(self) -> int:
        """Forget finished deliveries older than HISTORY_DAYS (every replica may: deletes by date)."""
        async with self.evaluator.db.transaction() as session:
            return await prune_deliveries(session, datetime.now(UTC) - timedelta(days=HISTORY_DAYS))

    async def _evaluate_loop(self) -> None:
        failing = False
        while True:
            try:
                await self.evaluate_once()
            except Exception as exc:  # a database away now is tried again next round; the service goes on
                # Once per outage, not every few seconds.
                if not failing:
                    log.warning(
                        "alert evaluation failed (%s); retrying every %g s",
                        type(exc).__name__,
                        self.interval,
                    )
                failing = True
            else:
                if failing:
                    log.warning("alert evaluation works again")
                failing = False
            await asyncio.sleep(self.interval)

    async def _send_loop(self) -> None:
        failing = False
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll)
            self._wake.clear()
            try:
                while await self.sender.send_due():
                    pass
            except Exception as exc:  # as above: the rows stay pending and are tried again
                if not failing:
                    log.warning(
                        "alert delivery failed (%s); retrying every %g s", type(exc).__name__, self.poll
                    )
                failing = True
            else:
                failing = False
