"""The writer's rollup increments (store/usage_rollups.py: rollup_rows, daily_rows) are the plain sums the
rebuild computes: per (hour, group) and per (day, group), every event's values capped at ROW_CAP, its cost
as usd_to_nanos, whatever the events' times (UTC, other zones, naive), order, groups or values."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from router.store.usage_rollups import (
    DIMENSIONS,
    ERROR_OUTCOMES,
    MEASURES,
    ROW_CAP,
    daily_rows,
    day_of,
    dims_hash,
    hour_of,
    rollup_rows,
    usd_to_nanos,
)
from router.store.usage_writes import UsageEvent
from tests.usage.helpers import event

T0 = datetime(2025, 6, 2, 22, 40, tzinfo=UTC)
_TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
# Costs at and around every bound: zero of both signs, the quick path's 10,000 USD, ROW_CAP's USD, beyond.
_COSTS = [0.0, -0.0, 0, 9_999.999_999_999_5, 10_000.0, 10_000.000_001, 70_368.74, 1e300, float("inf"), -1.5,
          5e-10, 4.999_999e-10, 3]  # fmt: skip


def _plain_sums(events: list[UsageEvent], bucket: Any) -> dict[tuple[Any, ...], list[int]]:
    """One event at a time, as the rebuild's SQL sums raw rows: the reference."""
    sums: dict[tuple[Any, ...], list[int]] = {}
    for e in events:
        group = tuple(getattr(e, name) for name in DIMENSIONS)
        row = sums.setdefault((bucket(e.created_at), dims_hash(group), *group), [0] * len(MEASURES))
        row[0] += 1
        row[1] += e.outcome in ERROR_OUTCOMES
        for i, name in enumerate(_TOKENS, start=2):
            row[i] += min(getattr(e, name), ROW_CAP)
        row[6] += usd_to_nanos(e.cost_usd)
        row[7] += min(e.latency_ms, ROW_CAP)
        if e.ttft_ms is not None:
            row[8] += min(e.ttft_ms, ROW_CAP)
            row[9] += 1
    return sums


def _events(seed: int, n: int, keys: int) -> list[UsageEvent]:
    rng = random.Random(seed)
    zones = [UTC, UTC, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8)), None]
    out = []
    for _ in range(n):
        when = T0 + timedelta(seconds=rng.randrange(-3 * 3600, 30 * 3600))
        zone = rng.choice(zones)
        when = when.replace(tzinfo=None) if zone is None else when.astimezone(zone)
        k = rng.randrange(keys)
        out.append(
            event(
                created_at=when,
                tenant_id=rng.choice([k % 7, None]),
                key_id=rng.choice([k, None]),
                key_prefix=rng.choice([f"rk-{k}", None, ""]),
                member=rng.choice([f"m{k}@example.com", None]),
                requested_model=rng.choice(["claude-sonnet-4", "claude-haiku", ""]),
                target=rng.choice(["openai/gpt-4.1", None]),
                outcome=rng.choice(["ok", "ok", "error", "rejected", "client_cancelled"]),
                input_tokens=rng.choice([rng.randrange(0, 5000), ROW_CAP, ROW_CAP + 1, 2**63 - 1, -3]),
                output_tokens=rng.randrange(0, 900),
                cache_read_tokens=rng.choice([0, rng.randrange(0, 300), 2**60]),
                cache_write_tokens=rng.randrange(0, 30),
                cost_usd=rng.choice([rng.randrange(0, 10**6) / 10**7 + 0.1 / 3, *_COSTS]),
                latency_ms=rng.choice([rng.randrange(1, 9000), 2**70]),
                ttft_ms=rng.choice([None, 0, rng.randrange(1, 900), ROW_CAP * 2]),
            )
        )
    return out


@pytest.mark.parametrize(("seed", "n", "keys"), [(1, 3000, 40), (2, 500, 500), (3, 1, 1), (4, 0, 1)])
def test_hourly_and_daily_increments_are_the_plain_sums_of_the_events(seed: int, n: int, keys: int) -> None:
    events = _events(seed, n, keys)
    hourly = rollup_rows(events)
    assert {row[:_MEASURES_AT]: list(row[_MEASURES_AT:]) for row in hourly} == _plain_sums(events, hour_of)
    assert len(hourly) == len({row[:2] for row in hourly})  # one row per (hour, group)
    assert [row[:2] for row in hourly] == sorted(row[:2] for row in hourly)  # in lock order
    daily = daily_rows(hourly)
    assert {row[:_MEASURES_AT]: list(row[_MEASURES_AT:]) for row in daily} == _plain_sums(events, day_of)
    assert [row[:2] for row in daily] == sorted(row[:2] for row in daily)


def test_an_event_at_an_hours_edge_goes_to_its_own_hour() -> None:
    edge = datetime(2025, 6, 2, 23, 0, tzinfo=UTC)
    times = [edge - timedelta(microseconds=1), edge, edge + timedelta(hours=1) - timedelta(microseconds=1),
             edge + timedelta(hours=1), edge - timedelta(microseconds=1)]  # fmt: skip
    rows = rollup_rows([event(created_at=t, requested_model="m") for t in times])
    assert [(row[0], row[_MEASURES_AT]) for row in rows] == [
        (edge - timedelta(hours=1), 2),
        (edge, 2),
        (edge + timedelta(hours=1), 1),
    ]


_MEASURES_AT = 2 + len(DIMENSIONS)
