"""Reading the numbers alerts watch and claiming what fires, off the request path.

Budgets come from the database (spend per window from the hourly rollups, store/budget_use.py), error rates
and cool-downs from this process's gateway (the attempt tally and the cooled targets it keeps in memory):
each replica judges the targets it talks to, and the claim makes a firing seen by several replicas one
delivery. The evaluator never sends: claimed firings become pending deliveries (delivery.py sends them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from router.alerts.message import body_for
from router.alerts.rules import (
    PENDING,
    AlertRule,
    Firing,
    Reading,
    cooldown_readings,
    error_rate_readings,
    firings,
    window_start,
)
from router.store.alerts import claim_firings, enabled_alerts
from router.store.budget_use import BudgetUse, budget_uses
from router.store.db import Database
from router.store.models import Alert

log = logging.getLogger(__name__)

AttemptCounts = Callable[[float], Mapping[str, tuple[int, int]]]
Cooled = Callable[[], Sequence[str]]


def rule_of(row: Alert) -> AlertRule:
    return AlertRule(
        id=row.id,
        name=row.name,
        watch=row.watch,
        thresholds=tuple(sorted(float(t) for t in row.thresholds or ())),
        tenants=frozenset(row.tenants) if row.tenants is not None else None,
        subjects=frozenset(row.subjects) if row.subjects is not None else None,
        targets=tuple(row.targets) if row.targets is not None else None,
        window_minutes=row.window_minutes,
        min_requests=row.min_requests,
    )


def budget_reading(use: BudgetUse) -> Reading:
    if use.kind == "tenant":
        subject, label = f"tenant:{use.tenant}", f"tenant {use.tenant}"
    elif use.kind == "member":
        subject, label = f"member:{use.tenant}/{use.ident}", f"member {use.ident} of {use.tenant}"
    else:
        who = f" ({use.member})" if use.member else ""
        subject, label = f"key:{use.ident}", f"key {use.ident}{who} of {use.tenant}"
    if use.amount_usd > 0:
        value = 100.0 * use.spent_usd / use.amount_usd
    else:
        value = 100.0 if use.spent_usd > 0 else 0.0
    return Reading(
        watch="budget",
        # Several budgets of one subject (a day's and a month's) are separate subjects of an alert.
        subject=f"{subject}:{use.window}",
        kind=use.kind,
        label=label,
        value=round(value, 2),
        window=use.window,
        window_start=use.window_start,
        tenant=use.tenant,
        details={"spent_usd": round(use.spent_usd, 6), "budget_usd": use.amount_usd},
    )


class AlertEvaluator:
    def __init__(
        self,
        db: Database,
        *,
        attempt_counts: AttemptCounts | None = None,
        cooled: Cooled | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self._attempt_counts = attempt_counts
        self._cooled = cooled
        self._clock = clock

    async def evaluate(self, *, budgets: bool = True) -> list[int]:
        """One round: every enabled alert against the current readings; the ids of deliveries this
        process claimed to send (firings other replicas claimed first are not among them)."""
        now = self._clock()
        async with self.db.session() as session:
            rules = [rule_of(row) for row in await enabled_alerts(session)]
        if not budgets:
            rules = [r for r in rules if r.watch != "budget"]
        if not rules:
            return []
        found: list[Firing] = []
        budget_rules = [r for r in rules if r.watch == "budget"]
        if budget_rules:
            readings = await self._budget_readings(budget_rules, now)
            for rule in budget_rules:
                found.extend(firings(rule, readings))
        for rule in rules:
            if rule.watch == "error_rate" and self._attempt_counts is not None:
                counts = self._attempt_counts(rule.window_minutes * 60.0)
                found.extend(firings(rule, error_rate_readings(counts, rule, now)))
            elif rule.watch == "cooldown" and self._cooled is not None:
                found.extend(firings(rule, cooldown_readings(self._cooled(), rule, now)))
        if not found:
            return []
        rows = [self._claim_row(f, now) for f in found]
        async with self.db.transaction() as session:
            claimed = await claim_firings(session, rows)
        pending = [i for i, status in claimed if status == PENDING]
        if claimed:
            log.info("alerts: %d firings claimed (%d to send)", len(claimed), len(pending))
        return pending

    async def _budget_readings(self, rules: Sequence[AlertRule], now: datetime) -> list[Reading]:
        starts = {w: window_start(w, now) for w in ("day", "week", "month")}
        tenants: set[str] | None = set()
        for rule in rules:
            if rule.tenants is None:
                tenants = None
                break
            assert tenants is not None
            tenants |= rule.tenants
        async with self.db.session() as session:
            uses = await budget_uses(session, starts, tenants)
        return [budget_reading(u) for u in uses]

    @staticmethod
    def _claim_row(f: Firing, now: datetime) -> dict[str, Any]:
        return {
            "alert_id": f.rule.id,
            "alert_name": f.rule.name,
            "subject": f.reading.subject,
            "threshold": f.threshold,
            "window_start": f.reading.window_start,
            "value": f.reading.value,
            "payload": body_for(f, now),
            "status": f.status,
        }
