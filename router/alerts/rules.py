"""What fires: readings (a subject's percentage in a window) against an alert's thresholds. Pure.

A firing is identified by (alert, subject, threshold, window start): the database keeps one row per
identity, which is how an alert fires once per threshold per window across replicas. When one evaluation
finds several thresholds of one subject crossed at once (spend jumped from 40 % to 105 %), all are claimed
but only the highest is sent; the others are recorded as superseded, so they never fire later in the window.

Windows: a budget's own (day, ISO week from Monday, month; UTC); error-rate and cool-down alerts use fixed
UTC buckets of `window_minutes` (an error rate is measured over the last `window_minutes`).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "AlertRule",
    "Firing",
    "Reading",
    "bucket_start",
    "cooldown_readings",
    "error_rate_readings",
    "firings",
    "window_start",
]

PENDING = "pending"
SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class AlertRule:
    """An alert as the evaluator needs it (no webhook, no secret)."""

    id: int
    name: str
    watch: str
    thresholds: tuple[float, ...] = ()
    tenants: frozenset[str] | None = None
    subjects: frozenset[str] | None = None
    targets: tuple[str, ...] | None = None
    window_minutes: int = 5
    min_requests: int = 10


@dataclass(frozen=True, slots=True)
class Reading:
    """One subject's standing: `value` in percent (of a budget, or of attempts failing) in a window."""

    watch: str
    subject: str
    kind: str  # "tenant", "member", "key" or "target"
    label: str  # what a person reads: "tenant acme", "key rk-ab12 (ann)", "target openai/gpt-4.1"
    value: float
    window: str  # "day", "week", "month", or "5m"
    window_start: datetime
    tenant: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Firing:
    rule: AlertRule
    reading: Reading
    threshold: float
    # PENDING: to send; SUPERSEDED: claimed with a higher threshold of the same reading, not sent.
    status: str


def bucket_start(now: datetime, minutes: int) -> datetime:
    """The start of the fixed UTC bucket of `minutes` that holds `now`."""
    moment = now.astimezone(UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    size = max(1, minutes) * 60
    elapsed = int((moment - day).total_seconds())
    # Buckets that do not divide a day restart at midnight (so every replica agrees on them).
    return day + timedelta(seconds=elapsed - elapsed % size)


def window_start(window: str, now: datetime) -> datetime:
    """The UTC start of a budget window ("day", "week" from Monday, "month") holding `now`."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if window == "day":
        return day
    if window == "week":
        return day - timedelta(days=day.weekday())
    if window == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown budget window {window!r}")


def _target_matches(patterns: Sequence[str] | None, ref: str) -> bool:
    return patterns is None or any(fnmatch.fnmatchcase(ref, p) for p in patterns)


def applies(rule: AlertRule, reading: Reading) -> bool:
    """Whether `reading` is something `rule` watches."""
    if reading.watch != rule.watch:
        return False
    if rule.watch == "budget":
        if rule.tenants is not None and reading.tenant not in rule.tenants:
            return False
        return rule.subjects is None or reading.kind in rule.subjects
    return _target_matches(rule.targets, reading.subject.removeprefix("target:"))


def firings(rule: AlertRule, readings: Iterable[Reading]) -> list[Firing]:
    """Every threshold of `rule` that each watched reading has reached, in a stable order (subject, then
    threshold ascending: replicas inserting the same claims take row locks in the same order). A cool-down
    alert has one implicit threshold, 0: the target is cooled."""
    out: list[Firing] = []
    watched = sorted((r for r in readings if applies(rule, r)), key=lambda r: (r.subject, r.window_start))
    for reading in watched:
        if not math.isfinite(reading.value):
            continue
        if rule.watch == "cooldown":
            out.append(Firing(rule, reading, 0.0, PENDING))
            continue
        reached = sorted(t for t in rule.thresholds if reading.value >= t)
        for threshold in reached:
            status = PENDING if threshold == reached[-1] else SUPERSEDED
            out.append(Firing(rule, reading, threshold, status))
    return out


def error_rate_readings(
    counts: Mapping[str, tuple[int, int]], rule: AlertRule, now: datetime
) -> list[Reading]:
    """Per target, the percentage of attempts that failed over the rule's window: `counts` maps a target
    ref to (attempts, failures) over the last `window_minutes`. Targets with fewer than `min_requests`
    attempts are not judged (one failure of one attempt is not a 100 % error rate)."""
    start = bucket_start(now, rule.window_minutes)
    readings: list[Reading] = []
    for ref, (attempts, failures) in sorted(counts.items()):
        if attempts < rule.min_requests or attempts <= 0:
            continue
        rate = 100.0 * min(failures, attempts) / attempts
        readings.append(
            Reading(
                watch="error_rate",
                subject=f"target:{ref}",
                kind="target",
                label=f"target {ref}",
                value=round(rate, 2),
                window=f"{rule.window_minutes}m",
                window_start=start,
                details={"attempts": attempts, "failures": failures, "window_minutes": rule.window_minutes},
            )
        )
    return readings


def cooldown_readings(cooled: Iterable[str], rule: AlertRule, now: datetime) -> list[Reading]:
    """Each target being skipped after repeated failures (value 100: cooled)."""
    start = bucket_start(now, rule.window_minutes)
    return [
        Reading(
            watch="cooldown",
            subject=f"target:{ref}",
            kind="target",
            label=f"target {ref}",
            value=100.0,
            window=f"{rule.window_minutes}m",
            window_start=start,
        )
        for ref in sorted(set(cooled))
    ]
